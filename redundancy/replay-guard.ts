// Replay protection for authenticated envelopes (S4): an IPsec-style sliding
// window (RFC 4303 §3.4.3) per (sender, channel). The window is a ring bitmap
// indexed by seq modulo the window size, so a check costs O(1) except when the
// top slides, which clears at most `window` bits.
//
// Only authenticated envelopes reach the guard, so only holders of the pair
// key can create entries; the LRU bound keeps a buggy peer from growing it
// without limit. An evicted key starts over, accepting its next message.

export type ReplayVerdict = "ok" | "replay" | "old-incarnation";

export const MAX_REPLAY_KEYS = 1024;
const MAX_WINDOW = 1 << 16;

interface Slot {
  from: string;
  inc: number;
  /** highest seq accepted in this incarnation */
  top: number;
  /** bit (seq % window) set ⇔ seq accepted, for seq in (top - window, top] */
  bits: Uint32Array;
}

export class ReplayGuard {
  readonly window: number;
  private readonly slots = new Map<string, Slot>();

  constructor(window = 64) {
    if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW) throw new RangeError(`replay window must be 1–${MAX_WINDOW}, got ${window}`);
    this.window = window;
  }

  /** Records (inc, seq) from `from` on `ch` and says whether it may be accepted. */
  check(from: string, ch: string, inc: number, seq: number): ReplayVerdict {
    // Envelopes are validated before they get here; anything else is refused, not trusted.
    if (!Number.isSafeInteger(inc) || inc < 1 || !Number.isSafeInteger(seq) || seq < 1) return "replay";
    const k = JSON.stringify([from, ch]);
    let slot = this.slots.get(k);
    if (slot) {
      this.slots.delete(k); // re-inserted below: Map order is the LRU order
    }
    let verdict: ReplayVerdict;
    if (!slot || inc > slot.inc) {
      slot = { from, inc, top: seq, bits: new Uint32Array(Math.ceil(this.window / 32)) };
      this.set(slot, seq);
      verdict = "ok";
    } else if (inc < slot.inc) {
      verdict = "old-incarnation";
    } else {
      verdict = this.slide(slot, seq);
    }
    this.slots.set(k, slot);
    if (this.slots.size > MAX_REPLAY_KEYS) {
      const oldest = this.slots.keys().next().value as string;
      this.slots.delete(oldest);
    }
    return verdict;
  }

  /** Forgets one sender (every channel), or everyone. */
  forget(from?: string): void {
    if (from === undefined) {
      this.slots.clear();
      return;
    }
    for (const [k, s] of this.slots) if (s.from === from) this.slots.delete(k);
  }

  /** Number of (sender, channel) windows held. */
  get size(): number {
    return this.slots.size;
  }

  private slide(slot: Slot, seq: number): ReplayVerdict {
    if (seq > slot.top) {
      const gap = seq - slot.top;
      if (gap >= this.window) slot.bits.fill(0);
      else for (let s = slot.top + 1; s < seq; s++) this.clear(slot, s);
      this.set(slot, seq);
      slot.top = seq;
      return "ok";
    }
    if (slot.top - seq >= this.window) return "replay"; // below the window: can't tell, so refuse
    if (this.has(slot, seq)) return "replay";
    this.set(slot, seq);
    return "ok";
  }

  private has(slot: Slot, seq: number): boolean {
    const i = seq % this.window;
    return (slot.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  private set(slot: Slot, seq: number): void {
    const i = seq % this.window;
    slot.bits[i >>> 5] |= 1 << (i & 31);
  }

  private clear(slot: Slot, seq: number): void {
    const i = seq % this.window;
    slot.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}
