// The node's files are its own: the data dir 0700, files in it 0600, the log
// file 0600, whatever the umask of whoever started the node. Config files
// holding password hashes are written 0600 by the tools that make them.
import { chmodSync, closeSync, fdatasyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/**
 * Everything a process makes from now on is private (group and others get no
 * bits). Covers files written by libraries too (node-opcua's certificates).
 */
export function privateUmask(): void {
  process.umask(0o077);
}

/**
 * Makes `dir` (and a missing parent chain) with mode 0700 and takes group and
 * other bits off what is already in it: a node upgraded in place, or a data
 * dir made by hand under umask 022. Two levels deep is enough for the node's
 * own layout; deeper trees (certificates) are made under the private umask.
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  tighten(dir, 2);
}

function tighten(path: string, depth: number): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    if ((st.mode & 0o777) !== PRIVATE_DIR) chmodSync(path, PRIVATE_DIR);
    if (depth > 0) for (const name of readdirSync(path)) tighten(join(path, name), depth - 1);
  } else if (st.isFile() && (st.mode & 0o077) !== 0) {
    chmodSync(path, st.mode & 0o700);
  }
}

/** A file's directory, made private when the node creates it (an existing one is left as the site set it). */
export function makeParentDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR });
}

/**
 * Writes a private file whole or not at all: a temporary file beside it, then
 * a rename. `durable`: the temporary file is on the disk before the rename
 * (a backup's manifest must not be lost to a power cut once it is there).
 */
export function writePrivateFile(file: string, text: string, opts: { durable?: boolean } = {}): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: PRIVATE_FILE });
  if (opts.durable) syncFile(tmp);
  renameSync(tmp, file);
}

/** Flushes a file's data to the disk (fdatasync). */
export function syncFile(file: string): void {
  const fd = openSync(file, "r");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
