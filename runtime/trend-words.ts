// The words an operator reads on the HMI's trend and timeline panels
// (runtime/hmi/trend.js, timeline.js): labels, the ranges, what a gap or a
// marker means, and what was left out. Defined here and served in /words.js
// (words.ts) like the other panels' words, so the scripts hold no text of
// their own; {name} marks are filled in by the page.

/** The ranges an operator chooses from, shortest first; the first is the default. */
export const TREND_RANGES = [
  { ms: 15 * 60_000, label: "15 min" },
  { ms: 60 * 60_000, label: "1 h" },
  { ms: 8 * 60 * 60_000, label: "8 h" },
  { ms: 24 * 60 * 60_000, label: "24 h" },
] as const;

export const TREND_PANEL_WORDS = {
  title: "Trend",
  tags: "Tags",
  picked: "Tags: {n} of {of} chosen",
  range: "Range",
  ranges: TREND_RANGES,
  choose: "Choose up to {max} numeric tags to draw.",
  noNumeric: "This node has no numeric tags to draw.",
  atMost: "At most {max} tags at once; clear one to choose another.",
  loading: "Reading the history…",
  noHistory: "{name}: no recorded history (history.enabled?)",
  notRead: "{name}: history not read: {message}",
  cut: "{name}: this range holds more than {limit} samples; only the newest {limit} are drawn (from {since}).",
  quality: "A gap in a line: no good value there (quality bad or uncertain). Amber dots: a value read with uncertain quality.",
  live: "Live values are added as they change.",
  value: "{name}: {value}",
  noValue: "{name}: no good value",
} as const;

export const TIMELINE_PANEL_WORDS = {
  title: "Timeline",
  node: "Node {node}",
  thisNode: "Node {node} (this node)",
  noChange: "no state change recorded in this range: {state} throughout, as now",
  noRecord: "no record",
  noRecordTip: "nothing stored before {at}: the event store begins there",
  segment: "{state} from {from} to {to}",
  stale: "{state} from {from} by the last stored change; {now} now: a change in between was not stored (a node's changes are stored once it is active)",
  events: "{n} events in this range",
  noEvents: "No takeovers, confirms or alarms recorded in this range.",
  cut: "More than {max} stored events in this range: the newest are not shown.",
  notRead: "The stored events could not be read: {message}",
  tap: "Tap or hover a marker to read the event.",
  detail: "{at} · node {node} · {severity}: {text}",
  legend: [
    { kind: "alarm", label: "alarm" },
    { kind: "takeover", label: "takeover" },
    { kind: "confirm", label: "confirm or reject" },
    { kind: "switchover", label: "switchover" },
    { kind: "other", label: "other event" },
  ],
} as const;

export const TREND_WORDS = { trend: TREND_PANEL_WORDS, timeline: TIMELINE_PANEL_WORDS } as const;
