// Staleness, the I/O side: every second, a sample of when the node last
// heard each thing it should hear (taken by the node: its peer links, the
// witness, its devices, the last verify), assessed by stale.ts; each change
// is told to the node, which records it as an event.
import type { Item, Level } from "./assess.js";
import { assessStale, type StaleConfig, type StaleSample, type StaleState } from "./stale.js";

export const STALE_EVERY_MS = 1000;

export class StaleMonitor {
  private timer: NodeJS.Timeout | null = null;
  private last: StaleState | null = null;

  constructor(
    private readonly o: {
      config: StaleConfig;
      sample(): StaleSample;
      onChange(item: Item, from: Level): void;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), STALE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  items(): Item[] {
    return this.last?.items ?? [];
  }

  tick(): void {
    const a = assessStale(this.o.sample(), this.o.config, this.last);
    this.last = a;
    for (const c of a.changes) this.o.onChange(c.item, c.from);
  }
}
