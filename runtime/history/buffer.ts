// A bounded FIFO: what the recorders hold while the database is slow or the
// node cannot write yet. Memory stays bounded whatever the store does: past
// `max`, the oldest items go and are counted (the newest say most about the
// plant now). A ring of fixed size: pushing into a full buffer is O(1).

export class BoundedBuffer<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private n = 0;
  /** items dropped since the buffer was made */
  dropped = 0;

  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`a buffer holds at least 1 item, got ${max}`);
    this.ring = new Array<T | undefined>(max);
  }

  get size(): number {
    return this.n;
  }

  /** adds at the end; returns how many of the oldest it dropped to make room (0 or 1) */
  push(item: T): number {
    if (this.n === this.max) {
      this.ring[this.head] = item;
      this.head = (this.head + 1) % this.max;
      this.dropped++;
      return 1;
    }
    this.ring[(this.head + this.n) % this.max] = item;
    this.n++;
    return 0;
  }

  /** removes and returns up to `count` of the oldest items */
  take(count: number): T[] {
    const k = Math.min(count, this.n);
    const out: T[] = new Array<T>(k);
    for (let i = 0; i < k; i++) {
      out[i] = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.max;
    }
    this.n -= k;
    return out;
  }

  /**
   * Puts items taken earlier back in front (a write that failed), oldest
   * first as they were; what no longer fits is dropped from the oldest end
   * and counted. Returns how many it dropped.
   */
  unshift(items: readonly T[]): number {
    const room = this.max - this.n;
    const keep = items.length <= room ? items : items.slice(items.length - room);
    const lost = items.length - keep.length;
    for (let i = keep.length - 1; i >= 0; i--) {
      this.head = (this.head - 1 + this.max) % this.max;
      this.ring[this.head] = keep[i];
      this.n++;
    }
    this.dropped += lost;
    return lost;
  }

  clear(): number {
    const k = this.n;
    this.take(k);
    return k;
  }
}
