// The `processes` config section: the process modules a node loads (on both
// nodes) and runs while it is active (docs/processes.md).
import { z } from "zod";

export const processName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,47}$/, "expected 1–48 letters, digits, '_' or '-', starting with a letter");

export const processSchema = z.strictObject({
  /** the module file (.js or .mjs; .ts or .mts, transpiled at load: an ES module exporting start and optionally stop); relative to the config file */
  module: z.string().min(1),
  /** handed to the module as ctx.options */
  options: z.record(z.string(), z.unknown()).default({}),
  /** how long stop() and the end of start() may take before the module is left behind (its writes are refused from then on) */
  stopTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
});

export const processesSection = z.record(processName, processSchema).default({});

export type ProcessConfig = z.infer<typeof processSchema>;
