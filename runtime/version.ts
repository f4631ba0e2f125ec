// The version of the running Tandem: its package.json, found above this
// file (dist/ in an install, the sources in a checkout).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let version: string | null = null;
/** the version in Tandem's package.json, found above this file (dist/ or the sources) */
export function tandemVersion(): string {
  if (version) return version;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "tandem" && pkg.version) return (version = pkg.version);
    } catch {
      // not here
    }
    if (dirname(dir) === dir) return (version = "unknown");
  }
}
