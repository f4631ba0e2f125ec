// The node's watch over its own log: the error lines of each component, and
// lines matching the site's patterns (an SMTP error in a service's output),
// counted over a sliding window; at the threshold an alarm, below it again
// back to normal. Lines come from the LogManager as they are written (its
// tap), so what is counted is exactly what reaches the log. The watch's own
// lines (component "monitoring") are not matched: an alarm quoting a
// pattern's name must not count towards it.
import type { Item, Level } from "./assess.js";
import type { LogWatchConfig } from "./config-schema.js";

const ERROR = 50;
const COMPONENT = /"component":"([^"\\]{1,64})"/;
const OWN = '"component":"monitoring"';
/** the most components counted (a line names its component; bounded all the same) */
const MAX_KEYS = 200;

export class LogWatch {
  /** per item: the times of its lines within the window, oldest first, at most threshold + 1 kept */
  private readonly seen = new Map<string, number[]>();
  private readonly patterns: { name: string; re: RegExp; count: number }[];
  private items_: Item[] = [];

  constructor(
    private readonly c: LogWatchConfig,
    private readonly now: () => number,
  ) {
    this.patterns = c.patterns.map((p) => ({ name: p.name, re: new RegExp(p.match, p.ignoreCase ? "i" : ""), count: p.count }));
  }

  /** one line as written (pino's numeric level, the JSON text) */
  line(level: number, text: string): void {
    if (this.c.errorsPerWindow > 0 && level >= ERROR) {
      const component = COMPONENT.exec(text)?.[1] ?? "node";
      this.add(`errors:${component}`, this.c.errorsPerWindow);
    }
    if (!this.patterns.length || text.includes(OWN)) return;
    for (const p of this.patterns) if (p.re.test(text)) this.add(`pattern:${p.name}`, p.count);
  }

  private add(key: string, threshold: number): void {
    let times = this.seen.get(key);
    if (!times) {
      if (this.seen.size >= MAX_KEYS) return;
      times = [];
      this.seen.set(key, times);
    }
    times.push(this.now());
    if (times.length > threshold + 1) times.shift();
  }

  items(): Item[] {
    return this.items_;
  }

  /** Counts within the window now; returns the changes of level since the last call. */
  assess(): { item: Item; from: Level }[] {
    const cut = this.now() - this.c.windowSeconds * 1000;
    const before = new Map(this.items_.map((i) => [i.name, i.level]));
    const items: Item[] = [];
    for (const [key, times] of this.seen) {
      while (times.length && times[0]! < cut) times.shift();
      const [kind, name] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      const threshold = kind === "errors" ? this.c.errorsPerWindow : (this.patterns.find((p) => p.name === name)?.count ?? 1);
      const n = times.length;
      const alarm = n >= threshold;
      const more = n > threshold ? " or more" : "";
      const text =
        kind === "errors"
          ? alarm
            ? `${n}${more} error lines from ${name} in the last ${this.c.windowSeconds} s (threshold ${threshold})`
            : `error lines from ${name} below ${threshold} in ${this.c.windowSeconds} s`
          : alarm
            ? `${n}${more} log lines matching '${name}' in the last ${this.c.windowSeconds} s (threshold ${threshold})`
            : `log lines matching '${name}' below ${threshold} in ${this.c.windowSeconds} s`;
      if (n === 0 && (before.get(key) ?? "ok") === "ok") {
        this.seen.delete(key);
        continue;
      }
      items.push({ name: key, value: n, level: alarm ? "alarm" : "ok", text });
    }
    this.items_ = items;
    return items.filter((i) => (before.get(i.name) ?? "ok") !== i.level).map((item) => ({ item, from: before.get(item.name) ?? ("ok" as Level) }));
  }
}
