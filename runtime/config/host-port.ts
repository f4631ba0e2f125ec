// host:port in config values: parsed once, with an error that says what was expected.
import { z } from "zod";
import type { HostPort } from "../../core/types.js";

/** "host:port" or "[v6]:port" → { host, port }; the error says what was expected. */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return `expected host:port (e.g. 127.0.0.1:7400), got '${text}'`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1–65535, got ${port} in '${text}'`;
  return { host: m[1] ?? m[2]!, port };
}

export const hostPort = z.string().transform((text, ctx) => {
  const r = parseHostPort(text);
  if (typeof r === "string") {
    ctx.addIssue({ code: "custom", message: r });
    return z.NEVER;
  }
  return r;
});
