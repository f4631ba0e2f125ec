// How a tag history row is keyed: `<tag>@<source time, 15 digits>@<epoch>.<n>`.
// Keys sort bytewise by tag, then time, so the rows of one tag in a time
// range are one range of the (table, key) index (Storage.readKeys). A tag
// name never holds '@' (drivers/config-schema.ts). The tail makes the key
// unique, as an insert's key must be (redundancy/storage.ts): a steady
// value's source time repeats (a heartbeat sample, a new active recording
// what the old one did), and the epoch of the active that wrote the row with
// its own counter never does.

export const HISTORY_TABLE = "_history";

const WIDTH = 15;

const time = (ms: number) => String(Math.max(0, Math.min(Math.floor(ms), 10 ** WIDTH - 1))).padStart(WIDTH, "0");

export function historyKey(tag: string, ts: number, epoch: number, n: number): string {
  return `${tag}@${time(ts)}@${epoch}.${n.toString(36)}`;
}

/** the keys of `tag` with a source time in [from, to] (ms, both included) */
export function historyRange(tag: string, from: number, to: number): { from: string; to: string } {
  return { from: `${tag}@${time(from)}`, to: `${tag}@${time(to + 1)}` };
}
