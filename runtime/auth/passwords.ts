// Password hashes for the HTTP users: scrypt from node:crypto, stored as
// scrypt$N$r$p$saltB64$hashB64 (the format config/schema.ts accepts and
// `tandem hash-password` prints). Parameters travel with the hash so they can
// be raised later without invalidating existing config files.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds for parameters read from a config file: a typo must not make every
// login allocate gigabytes or spin for minutes.
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

function scryptAsync(plain: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** scrypt needs 128·N·r bytes; give it that plus headroom instead of the 32 MiB default. */
function maxmem(n: number, r: number): number {
  return 128 * n * r + 1024 * 1024;
}

export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(plain, salt, KEY_BYTES, { N, r: R, p: P, maxmem: maxmem(N, R) });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const FORMAT = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function parse(stored: string): ParsedHash | null {
  if (typeof stored !== "string") return null;
  const m = FORMAT.exec(stored);
  if (!m) return null;
  const n = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  // N must be a power of two above 1 (scrypt's own rule).
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return null;
  if (r < 1 || r > MAX_R || p < 1 || p > MAX_P) return null;
  const salt = Buffer.from(m[4], "base64");
  const key = Buffer.from(m[5], "base64");
  if (salt.length < 8 || key.length < 16 || key.length > 128) return null;
  return { n, r, p, salt, key };
}

/** True when `plain` matches; false (never a throw) for a wrong password or a malformed stored hash. */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  if (typeof plain !== "string") return false;
  const h = parse(stored);
  if (!h) return false;
  try {
    const key = await scryptAsync(plain, h.salt, h.key.length, { N: h.n, r: h.r, p: h.p, maxmem: maxmem(h.n, h.r) });
    return timingSafeEqual(key, h.key);
  } catch {
    return false;
  }
}

/** True when `stored` is a hash verifyPassword can check (for config validation and tests). */
export function isPasswordHash(stored: string): boolean {
  return parse(stored) !== null;
}
