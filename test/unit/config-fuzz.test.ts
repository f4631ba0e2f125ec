// The config loader (runtime/config/load.ts parseConfig: YAML → ${ENV} →
// tag files → schema), fuzzed (fast-check). Inputs: YAML-ish text built
// from the syntax that goes wrong (anchors and aliases, tags, flow and block
// mixed, tabs, directives, merge keys, env references), the minimal valid
// config with bytes inserted or removed, and the minimal config as an object
// with a section or a key replaced by any JSON value. What it proves (S5: a
// malformed config is refused at start with the path and the reason): the
// loader returns a config or throws a ConfigError with at least one issue,
// each a path and a message — never another exception (`tandem start` prints
// a ConfigError as "config error: path: reason" and exits 2, anything else
// as a bare message with exit 1); a change to one section is reported under
// that section's name.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError } from "../../core/errors.js";
import { parseConfig } from "../../runtime/config/load.js";
import { configSchema, type TandemConfig } from "../../runtime/config/schema.js";
import { minimalConfig, TEST_KEY } from "../helpers/min-config.js";

// relative paths (tag files, data dirs) resolve here, not in the repository
const baseDir = mkdtempSync(join(tmpdir(), "tandem-config-fuzz-"));
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));
const env = { PAIR_KEY: TEST_KEY, X: "1" };

/** parseConfig under the loader's promise: a config, or a ConfigError with a path and a message per issue */
function loadChecked(text: string): { config: TandemConfig } | { error: ConfigError } {
  try {
    return { config: parseConfig(text, { env, baseDir }) };
  } catch (e) {
    expect(e, `${(e as Error)?.name}: ${(e as Error)?.message}`).toBeInstanceOf(ConfigError);
    const err = e as ConfigError;
    expect(err.issues.length).toBeGreaterThan(0);
    for (const i of err.issues) {
      expect(typeof i.path).toBe("string");
      expect(typeof i.message).toBe("string");
      expect(i.message.length).toBeGreaterThan(0);
    }
    expect(err.report()).toMatch(/^config error: /);
    return { error: err };
  }
}

const TOKENS = [
  "pair", "node", "peer", "http", "id", "key", "links", "listen", "drivers", "devices", "tags", "tagFiles", "services", "mqtt", "witness",
  ":", ": ", " ", "  ", "\n", "\n  ", "\n    ", "\t", "- ", "-", "{", "}", "[", "]", ",", "?", "? ", "|", ">", "|-", "#", "'", '"', "\\",
  "&a ", "&b ", "*a", "*b", "*", "&", "<<: ", "<<: *a", "!!str ", "!!int ", "!!binary ", "!!map ", "!!seq ", "!!set ", "!!omap ", "!!timestamp ", "!custom ", "!<tag:x> ",
  "---\n", "...\n", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "${PAIR_KEY}", "${X:-d}", "${NOPE}", "${", "}",
  "1", "-1", "0", "0x1F", "0o17", "1e400", "-.inf", ".nan", "null", "~", "true", "no", "127.0.0.1:7410", "\u0000", "\u2028", "ü", "\uFEFF",
];
const yamlish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(""));

const MINIMAL = minimalConfig();
/** the minimal config with a few edits at random places: a valid file a typo away from broken */
const edited = fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 }))), { minLength: 1, maxLength: 4 }).map((edits) => {
  let s = MINIMAL;
  for (const [at, cut, insert] of edits) {
    const i = at % (s.length + 1);
    s = s.slice(0, i) + insert + s.slice(i + cut);
  }
  return s;
});

/** an alias chain of `depth` levels, `width` aliases each: a billion laughs when large */
const aliasBomb = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 })).map(([depth, width]) => {
  let s = `${MINIMAL}l0: &l0 [x]\n`;
  for (let d = 1; d <= depth; d++) s += `l${d}: &l${d} [${Array(width).fill(`*l${d - 1}`).join(", ")}]\n`;
  return s;
});

const SECTIONS = Object.keys(configSchema.shape);
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** the minimal config as an object, with one section, or one key of it, replaced by any JSON value (or removed) */
const mutated = fc
  .record({
    section: fc.constantFrom(...SECTIONS),
    key: fc.option(fc.oneof(fc.constantFrom("id", "key", "role", "dataDir", "listen", "address", "links", "enabled", "tags", "devices", "tagFiles", "url", "timeoutMs", "mode"), fc.string({ maxLength: 8 })), { nil: undefined }),
    value: fc.option(fc.oneof(anyJson, fc.constantFrom("", "${NOPE}", "x".repeat(10_000), -1, 0, 2 ** 53, 1e308, [], {}, [{}], { tagFiles: ["nope.csv", 7, {}] })), { nil: undefined }),
  })
  .map(({ section, key, value }) => {
    const o = parse(MINIMAL) as Record<string, unknown>;
    if (key === undefined) {
      if (value === undefined) delete o[section];
      else o[section] = value;
    } else {
      const sec = o[section] && typeof o[section] === "object" && !Array.isArray(o[section]) ? (o[section] as Record<string, unknown>) : {};
      if (value === undefined) delete sec[key];
      else sec[key] = value;
      o[section] = sec;
    }
    return { section, text: JSON.stringify(o) };
  });

describe("config loader fuzzed", () => {
  it("YAML-ish text: a config or a ConfigError, never another exception", () => {
    fc.assert(
      fc.property(fc.oneof(yamlish, edited, fc.string({ unit: "binary", maxLength: 200 })), (text) => {
        loadChecked(text);
      }),
      { numRuns: 400 },
    );
  });

  it("anchors and aliases, up to a billion laughs: a config or a ConfigError", () => {
    fc.assert(
      fc.property(aliasBomb, (text) => {
        loadChecked(text);
      }),
      { numRuns: 60 },
    );
  });

  it("the minimal config with a section or a key replaced by any JSON value: a ConfigError that names that section, or a config", () => {
    fc.assert(
      fc.property(mutated, ({ section, text }) => {
        const r = loadChecked(text);
        if ("error" in r) expect(r.error.issues.map((i) => i.path).some((p) => p === section || p.startsWith(`${section}.`) || p.startsWith(`${section}[`) || p.startsWith(`${section} `)), r.error.message).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
