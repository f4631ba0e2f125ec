// Checks an audit file on disk with the chain verifier, a slice at a time:
// a node checking a large log through the API must not stall its heartbeats.
import { open } from "node:fs/promises";
import { ChainVerifier, type AuditVerifyResult } from "./chain.js";

const SLICE = 256 * 1024;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function verifyAuditFile(file: string, key: Buffer): Promise<AuditVerifyResult> {
  const v = new ChainVerifier(key);
  let fh;
  try {
    fh = await open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return v.end();
    throw err;
  }
  try {
    const buf = Buffer.alloc(SLICE);
    // bytes of a line not yet ended; lines are split on bytes, decoded whole
    let rest: Buffer = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, SLICE, null);
      if (bytesRead === 0) break;
      let chunk = Buffer.concat([rest, buf.subarray(0, bytesRead)]);
      let nl: number;
      while ((nl = chunk.indexOf(0x0a)) !== -1) {
        v.line(chunk.subarray(0, nl).toString("utf8"));
        chunk = chunk.subarray(nl + 1);
      }
      rest = Buffer.from(chunk);
      await yieldToLoop();
    }
    // a last line without its newline: torn (a crash mid-write) or cut
    if (rest.length > 0) v.line(rest.toString("utf8"));
  } finally {
    await fh.close();
  }
  return v.end();
}
