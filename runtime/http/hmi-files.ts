// The operator HMI is the static files in runtime/hmi/, one generated
// script, words.js (the state, level and action words from runtime/words.ts,
// the same the CLI prints), and the charting library uPlot from its npm
// package (vendor/…: plant floors have no internet, so the node serves it).
// The static files are found by walking up from this module to the folder
// holding package.json, so the same code works from the TypeScript sources
// (vitest) and from dist/runtime/http/; uPlot where Node resolves the package.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hmiWordsScript } from "../words.js";

export interface HmiFile {
  body: Buffer;
  type: string;
}

export const HMI_FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "session.js": "text/javascript; charset=utf-8",
  "board.js": "text/javascript; charset=utf-8",
  "tags.js": "text/javascript; charset=utf-8",
  "audit.js": "text/javascript; charset=utf-8",
  "actions.js": "text/javascript; charset=utf-8",
  "live.js": "text/javascript; charset=utf-8",
  "services.js": "text/javascript; charset=utf-8",
  "replication.js": "text/javascript; charset=utf-8",
  "context.js": "text/javascript; charset=utf-8",
  "plot-data.js": "text/javascript; charset=utf-8",
  "trend.js": "text/javascript; charset=utf-8",
  "timeline.js": "text/javascript; charset=utf-8",
  "site.html": "text/html; charset=utf-8",
  "site.js": "text/javascript; charset=utf-8",
  "site.css": "text/css; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

/** Served from npm packages, by the path the page asks for: the package, its file and the content type. */
export const VENDOR_FILES: Record<string, { pkg: string; file: string; type: string }> = {
  "vendor/uPlot.iife.min.js": { pkg: "uplot", file: "dist/uPlot.iife.min.js", type: "text/javascript; charset=utf-8" },
  "vendor/uPlot.min.css": { pkg: "uplot", file: "dist/uPlot.min.css", type: "text/css; charset=utf-8" },
};

/** Generated at start, not read from disk: the HMI's copy of the words cannot drift from the CLI's. */
export const HMI_WORDS_FILE = "words.js";

/** Every path the HMI is served under (without the leading slash); "/" is index.html too. */
export const HMI_PATHS: readonly string[] = [...Object.keys(HMI_FILES), HMI_WORDS_FILE, ...Object.keys(VENDOR_FILES)];

/** No inline script or style, nothing from elsewhere, no framing. */
export const HMI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function findHmiDir(from: string = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      const hmi = join(dir, "runtime", "hmi");
      return existsSync(join(hmi, "index.html")) ? hmi : null;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** A package's folder as Node resolves it from here (node_modules beside or above), or null when it is not installed. */
export function packageDir(pkg: string): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
}

/** Reads the HMI into memory; a missing folder gives only words.js (the API still runs), a missing package only loses its files. */
export function loadHmi(dir: string | null = findHmiDir()): Map<string, HmiFile> {
  const files = new Map<string, HmiFile>();
  files.set(HMI_WORDS_FILE, { body: Buffer.from(hmiWordsScript(), "utf8"), type: "text/javascript; charset=utf-8" });
  if (!dir) return files;
  for (const [name, type] of Object.entries(HMI_FILES)) {
    const p = join(dir, name);
    if (existsSync(p)) files.set(name, { body: readFileSync(p), type });
  }
  for (const [name, { pkg, file, type }] of Object.entries(VENDOR_FILES)) {
    const at = packageDir(pkg);
    const p = at ? join(at, file) : null;
    if (p && existsSync(p)) files.set(name, { body: readFileSync(p), type });
  }
  return files;
}
