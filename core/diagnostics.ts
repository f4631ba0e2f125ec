// What components count, published on node:diagnostics_channel (STYLE.md §7,
// as undici does): core logic says "this happened", the runtime decides what
// to count and how to show it (prom-client metrics in runtime/metrics.ts).
// A component with nobody subscribed pays one boolean check per event.
import diagnostics from "node:diagnostics_channel";

/** One channel per component that counts; the message is a CountEvent. */
export const COUNT_CHANNELS = {
  peerLink: "tandem:peer-link:count",
  witnessClient: "tandem:witness-client:count",
  witnessServer: "tandem:witness-server:count",
  role: "tandem:role:count",
  driver: "tandem:driver:count",
  log: "tandem:log:count",
  http: "tandem:http:count",
} as const;

export type CountChannel = (typeof COUNT_CHANNELS)[keyof typeof COUNT_CHANNELS];

/**
 * Who counted: the pair and node for the pair's components (several nodes can
 * share one process in tests, and each counts only its own), the device for a
 * driver.
 */
export interface CountScope {
  pair?: string;
  node?: string;
  device?: string;
}

export interface CountEvent extends CountScope {
  /** the component's own counter name, e.g. "rejected_bad_mac", "received_lan", "timeouts" */
  name: string;
  n: number;
}

/** A publisher for one channel: `count(name, scope)` from the component's count() helper. */
export function counterFor(channel: CountChannel): (name: string, scope?: CountScope, n?: number) => void {
  const ch = diagnostics.channel(channel);
  return (name, scope, n = 1) => {
    if (ch.hasSubscribers) ch.publish({ ...scope, name, n } satisfies CountEvent);
  };
}

/**
 * A counter map whose increments are also published: `stats.requests++`
 * stays as it is in the component and each increase reaches the channel.
 * For components that keep their counts as plain fields (the drivers).
 */
export function countedFields<T extends Record<string, number>>(channel: CountChannel, scope: () => CountScope, fields: T): T {
  const count = counterFor(channel);
  return new Proxy(fields, {
    set(target, key, value: number) {
      const before = (target as Record<string | symbol, number>)[key] ?? 0;
      (target as Record<string | symbol, number>)[key] = value;
      if (typeof key === "string" && value > before) count(key, scope(), value - before);
      return true;
    },
  });
}
