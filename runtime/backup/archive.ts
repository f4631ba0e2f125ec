// A backup archive: a gzip'd tar of files, written with the SHA-256 of every
// file and of the archive itself, and read back only into a given folder:
// an archive is a file anyone with access to the share could have changed,
// so every entry name is checked (relative, no "..", regular files only) and
// every size bounded before a byte is written.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { PassThrough, Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { extract, pack } from "tar-stream";

export interface ArchiveEntry {
  /** the name inside the archive ("db/tandem.db", "files/config/line1-a.yaml") */
  name: string;
  /** the file to read, or the text */
  file?: string;
  text?: string;
}

export interface WrittenEntry {
  name: string;
  bytes: number;
  sha256: string;
}

/** the largest single file an archive may hand back (a database of a long-running site) */
export const MAX_ENTRY_BYTES = 64 * 2 ** 30;

/** Streams of bytes through a SHA-256, counting them. */
function hashing(): { t: Transform; result: () => { bytes: number; sha256: string } } {
  const h = createHash("sha256");
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { t, result: () => ({ bytes, sha256: h.digest("hex") }) };
}

/**
 * Writes the entries in order to `out` (gzip'd tar), then the one `last`
 * makes from what was written (a manifest of their sizes and hashes);
 * returns each entry's size and hash and the archive's.
 */
export async function writeArchive(out: string, entries: ArchiveEntry[], mtime: Date, last?: (written: WrittenEntry[]) => ArchiveEntry): Promise<{ entries: WrittenEntry[]; bytes: number; sha256: string }> {
  const tar = pack();
  const whole = hashing();
  const done = pipeline(tar, createGzip({ level: 6 }), whole.t, createWriteStream(out, { mode: 0o600 }));
  const written: WrittenEntry[] = [];
  try {
    for (let i = 0; i <= entries.length; i++) {
      const e = i < entries.length ? entries[i]! : last?.([...written]);
      if (!e) break;
      if (e.text !== undefined) {
        const buf = Buffer.from(e.text, "utf8");
        await new Promise<void>((res, rej) => tar.entry({ name: e.name, mtime, mode: 0o600, size: buf.length }, buf, (err) => (err ? rej(err) : res())));
        written.push({ name: e.name, bytes: buf.length, sha256: createHash("sha256").update(buf).digest("hex") });
        continue;
      }
      const size = statSync(e.file!).size;
      const one = hashing();
      const sink = tar.entry({ name: e.name, mtime, mode: 0o600, size });
      await pipeline(createReadStream(e.file!), one.t, sink);
      written.push({ name: e.name, ...one.result() });
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
  return { entries: written, ...whole.result() };
}

/** The SHA-256 of a file, streamed. */
export async function fileSha256(file: string): Promise<{ bytes: number; sha256: string }> {
  const h = hashing();
  await pipeline(createReadStream(file), h.t, new PassThrough().resume());
  return h.result();
}

/** An entry name that stays inside the folder it is extracted to, or null. */
export function safeEntryName(name: string): string | null {
  if (!name || name.length > 512 || isAbsolute(name) || name.includes("\0") || name.includes("\\")) return null;
  const n = normalize(name);
  if (n.startsWith("..") || n.split(sep).includes("..") || n === ".") return null;
  return n;
}

/**
 * Extracts the archive into `dir`, checking each entry against `expect`
 * (name → size and SHA-256) when given: an entry it does not name, a size or
 * a hash that differs, or a missing one is an error naming it. Returns what
 * was written.
 */
export async function extractArchive(archive: string, dir: string, expect?: Map<string, { bytes: number; sha256: string }>): Promise<WrittenEntry[]> {
  const x = extract();
  const got: WrittenEntry[] = [];
  const problems: string[] = [];
  x.on("entry", (header, stream: Readable, next) => {
    const name = safeEntryName(header.name);
    const bad = (why: string) => {
      problems.push(why);
      stream.resume();
      stream.once("end", next);
    };
    if (name === null) return bad(`entry '${String(header.name).slice(0, 80)}' would be written outside the restore folder`);
    if (header.type !== "file") return bad(`entry '${name}' is a ${header.type}, not a file`);
    if ((header.size ?? 0) > MAX_ENTRY_BYTES) return bad(`entry '${name}' is larger than ${MAX_ENTRY_BYTES} bytes`);
    const want = expect?.get(name);
    if (expect && !want && name !== "manifest.json") return bad(`entry '${name}' is not in the manifest`);
    const to = join(dir, name);
    mkdirSync(dirname(to), { recursive: true });
    const h = hashing();
    pipeline(stream, h.t, createWriteStream(to, { mode: 0o600 }))
      .then(() => {
        const r = h.result();
        got.push({ name, ...r });
        if (want && (want.bytes !== r.bytes || want.sha256 !== r.sha256)) problems.push(`entry '${name}' differs from the manifest (${r.bytes} bytes, sha256 ${r.sha256.slice(0, 12)}…; expected ${want.bytes} bytes, ${want.sha256.slice(0, 12)}…)`);
        next();
      })
      .catch((err: Error) => next(err));
  });
  await pipeline(createReadStream(archive), createGunzip(), x);
  if (expect) for (const name of expect.keys()) if (!got.some((g) => g.name === name)) problems.push(`entry '${name}' of the manifest is missing from the archive`);
  if (problems.length) throw new ArchiveError(problems);
  return got;
}

export class ArchiveError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : ""));
    this.name = "ArchiveError";
  }
}
