// The one in-process tag bus: drivers publish, the API, MQTT and process
// modules subscribe. It keeps the latest snapshot of every tag so a new
// subscriber can start from the current picture. A subscriber that throws is
// reported through onListenerError and never stops delivery to the others.
import type { TagSnapshot } from "./tag-model.js";

export type TagListener = (tag: TagSnapshot) => void;

export class TagBus {
  private readonly latest = new Map<string, TagSnapshot>();
  private readonly listeners = new Set<{ fn: TagListener; filter?: (name: string) => boolean }>();
  /** set by the owner to log listener failures */
  onListenerError: (err: unknown, tag: string) => void = () => {};
  private published = 0;

  /** Subscribes; returns the unsubscribe function. `prefix` limits it to names starting with it. */
  subscribe(fn: TagListener, opts: { prefix?: string; replay?: boolean } = {}): () => void {
    const prefix = opts.prefix;
    const entry = { fn, ...(prefix ? { filter: (n: string) => n === prefix || n.startsWith(prefix.endsWith(".") ? prefix : `${prefix}.`) } : {}) };
    this.listeners.add(entry);
    if (opts.replay) for (const t of this.latest.values()) if (!entry.filter || entry.filter(t.name)) this.deliver(entry.fn, t);
    return () => {
      this.listeners.delete(entry);
    };
  }

  publish(tag: TagSnapshot): void {
    this.latest.set(tag.name, tag);
    this.published++;
    for (const l of this.listeners) if (!l.filter || l.filter(tag.name)) this.deliver(l.fn, tag);
  }

  get(name: string): TagSnapshot | undefined {
    return this.latest.get(name);
  }

  all(): TagSnapshot[] {
    return [...this.latest.values()];
  }

  get publishedCount(): number {
    return this.published;
  }

  private deliver(fn: TagListener, tag: TagSnapshot): void {
    try {
      fn(tag);
    } catch (err) {
      this.onListenerError(err, tag.name);
    }
  }
}
