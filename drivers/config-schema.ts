// The `drivers` and `watchdog` config sections. Placeholder until the drivers
// issue fills them in: anything given here is refused with a clear reason.
import { z } from "zod";

export const driversSection = z.unknown().superRefine((_, ctx) => {
  ctx.addIssue({ code: "custom", message: "the 'drivers' section is not supported by this version of Tandem yet; remove it" });
});

export const watchdogSection = z.unknown().superRefine((_, ctx) => {
  ctx.addIssue({ code: "custom", message: "the 'watchdog' section is not supported by this version of Tandem yet; remove it" });
});
