// `tandem import-tags FILE.csv [--device NAME] [--config FILE]`: a site's CSV
// tag list (drivers/tag-csv.ts) printed as a drivers.tags block to paste into
// a config. With --config the rows are checked against that config's devices
// first (types, addresses, Modicon numbers, blocks), every problem at once,
// by file and line. The same file can instead be named in the config
// (drivers.tagFiles) and read at every start.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError } from "../core/errors.js";
import { checkDriversSection } from "../drivers/config-schema.js";
import { parseTagCsv, tagsToYaml } from "../drivers/tag-csv.js";
import { loadConfig } from "./config/load.js";

export interface ImportIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const USAGE = "usage: tandem import-tags FILE.csv [--device NAME] [--config FILE]";

export async function runImportTags(argv: string[], io?: ImportIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`));
  const err = io?.err ?? ((s: string) => process.stderr.write(`${s}\n`));
  let values: { device?: string; config?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { device: { type: "string" }, config: { type: "string" } } }));
  } catch (e) {
    err(`tandem import-tags: ${(e as Error).message}`);
    err(USAGE);
    return 2;
  }
  if (positionals.length !== 1) {
    err(USAGE);
    return 2;
  }
  const file = positionals[0]!;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    err(`tandem import-tags: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return 2;
  }
  const csv = parseTagCsv(text, values.device === undefined ? {} : { device: values.device });
  const problems = csv.issues.map((i) => `${file} line ${i.line}: ${i.message}`);
  if (values.config !== undefined && csv.tags.length) {
    try {
      const c = loadConfig(values.config);
      const { issues } = checkDriversSection({ devices: c.drivers?.devices ?? [], tags: csv.tags.map((t) => t.entry) });
      for (const i of issues) {
        const [, k, ...rest] = i.path;
        const row = typeof k === "number" ? csv.tags[k] : undefined;
        const name = i.tag ?? (row?.entry.name as string | undefined);
        problems.push(`${file} line ${row?.line ?? "?"}${name ? ` "${name}"` : ""}${rest.length ? `.${rest.join(".")}` : ""}: ${i.message}`);
      }
    } catch (e) {
      if (e instanceof ConfigError) {
        err(e.report());
        return 2;
      }
      throw e;
    }
  }
  if (problems.length) {
    for (const p of problems) err(`tandem import-tags: ${p}`);
    return 2;
  }
  out(tagsToYaml(csv.tags.map((t) => t.entry), file));
  return 0;
}
