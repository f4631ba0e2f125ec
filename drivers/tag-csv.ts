// Tag lists kept as CSV, the form sites keep them in (a spreadsheet export):
// one tag per row after a header row naming the columns. Rows become
// drivers.tags entries exactly as if written in YAML, so they take the same
// aliases, Modicon addresses and blocks, and get the same checks. Problems
// name the file and the line.
import { parse } from "csv-parse/sync";
import { stringify } from "yaml";
import { suggest } from "./did-you-mean.js";

/** Columns and the tag key each fills; name and address are the least a row needs. */
const COLUMNS: Record<string, string> = {
  name: "name",
  address: "address",
  type: "type",
  order: "byteOrder",
  byteorder: "byteOrder",
  scaling: "scaling",
  units: "units",
  description: "description",
  device: "device",
  writable: "writable",
  length: "length",
  count: "count",
  scanms: "scanMs",
  deadband: "deadband",
  min: "min",
  max: "max",
  unitid: "unitId",
  nodeid: "nodeId",
};
const NUMBER_COLUMNS = new Set(["length", "count", "scanMs", "deadband", "min", "max", "unitId"]);

export interface CsvTag {
  /** a drivers.tags entry */
  entry: Record<string, unknown>;
  /** the line of the file the row starts on (1 = the header) */
  line: number;
}

export interface CsvIssue {
  line: number;
  message: string;
}

const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const SCALING = new RegExp(String.raw`^(${NUM})\s*\.\.\s*(${NUM})\s*(?:=>|->|=)\s*(${NUM})\s*\.\.\s*(${NUM})(?:\s+(clamp))?$`, "i");

/** `0..27648=0..100` (raw range = engineering range), with ` clamp` to clamp. */
export function parseScalingCell(text: string): Record<string, unknown> | string {
  const m = SCALING.exec(text.trim());
  if (!m) return `scaling: expected rawMin..rawMax=engMin..engMax (e.g. 0..27648=0..100, add ' clamp' to clamp), got '${text}'`;
  return { rawMin: Number(m[1]), rawMax: Number(m[2]), engMin: Number(m[3]), engMax: Number(m[4]), ...(m[5] ? { clamp: true } : {}) };
}

function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (["true", "yes", "y", "1", "x", "rw"].includes(t)) return true;
  if (["false", "no", "n", "0", "", "r", "ro"].includes(t)) return false;
  return undefined;
}

/**
 * CSV text → drivers.tags entries. `device` is used for rows without a
 * device column. The delimiter is ',' or, when the header holds ';' and no
 * ',', ';' (spreadsheets in many locales). '#' starts a comment line.
 */
export function parseTagCsv(text: string, opts: { device?: string } = {}): { tags: CsvTag[]; issues: CsvIssue[] } {
  const issues: CsvIssue[] = [];
  const headerLine = text.replace(/^\uFEFF/, "").split(/\r?\n/).find((l) => l.trim() !== "" && !l.trimStart().startsWith("#")) ?? "";
  const delimiter = headerLine.includes(";") && !headerLine.includes(",") ? ";" : ",";
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { bom: true, delimiter, comment: "#", skip_empty_lines: true, trim: true, relax_column_count: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    return { tags: [], issues: [{ line: err.lines ?? 0, message: err.message }] };
  }
  if (rows.length === 0) return { tags: [], issues: [{ line: 1, message: "no header row (expected columns such as name,address,type,order,scaling,units,description)" }] };
  const header = rows[0]!;
  const keys: (string | undefined)[] = header.record.map((h, col) => {
    const k = COLUMNS[h.toLowerCase().replace(/[\s_-]+/g, "")];
    if (!k) {
      const s = suggest(h, Object.keys(COLUMNS));
      issues.push({ line: header.info.lines, message: `unknown column '${h}' (column ${col + 1})${s ? ` (did you mean '${s}'?)` : ""}; columns: ${Object.keys(COLUMNS).join(", ")}` });
    }
    return k;
  });
  for (const need of ["name", "address"]) {
    if (!keys.includes(need) && !(need === "address" && keys.includes("nodeId"))) issues.push({ line: header.info.lines, message: `the header has no '${need}' column` });
  }
  if (issues.length) return { tags: [], issues };
  const tags: CsvTag[] = [];
  for (const { record, info } of rows.slice(1)) {
    const line = info.lines;
    if (record.every((c) => c === "")) continue;
    if (record.length > keys.length) issues.push({ line, message: `${record.length} cells, the header has ${keys.length} columns` });
    const entry: Record<string, unknown> = {};
    let ok = true;
    record.forEach((cell, col) => {
      const key = keys[col];
      if (!key || cell === "") return;
      const bad = (m: string) => {
        issues.push({ line, message: m });
        ok = false;
      };
      if (key === "scaling") {
        const s = parseScalingCell(cell);
        if (typeof s === "string") bad(s);
        else entry.scaling = s;
      } else if (key === "writable") {
        const b = parseBool(cell);
        if (b === undefined) bad(`writable: expected true/false (or yes/no, 1/0), got '${cell}'`);
        else entry.writable = b;
      } else if (NUMBER_COLUMNS.has(key)) {
        const n = Number(cell);
        if (!Number.isFinite(n) || !new RegExp(`^${NUM}$`).test(cell)) bad(`${key}: expected a number, got '${cell}'`);
        else entry[key] = n;
      } else entry[key] = cell;
    });
    if (entry.device === undefined && opts.device !== undefined) entry.device = opts.device;
    if (entry.device === undefined) {
      issues.push({ line, message: "no device: add a device column, or name it in the config (tagFiles: [{ file: tags.csv, device: plc1 }])" });
      ok = false;
    }
    if (ok) tags.push({ entry, line });
  }
  return { tags, issues };
}

/** Entries → a drivers.tags block to paste into a config (`tandem import-tags`). */
export function tagsToYaml(entries: Record<string, unknown>[], source?: string): string {
  const head = source ? `# ${entries.length} tag${entries.length === 1 ? "" : "s"} from ${source}\n` : "";
  return head + stringify({ tags: entries }, { flowCollectionPadding: true, lineWidth: 0 });
}
