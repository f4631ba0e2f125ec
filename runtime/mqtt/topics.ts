// The topics of CONTRACT.md ("MQTT topics", prefix tandem/<pairId>/) and who
// may use which: pure functions, so the broker's hooks stay thin.
//
// Clients subscribe to anything under the prefix (every role); the only thing
// a client may publish is a write request, `tags/<tag with / for .>/set`, and
// only as an operator or admin. Every other topic under the prefix is
// Tandem's own (state, status, values, events): a client cannot forge it.
// Outside the prefix nothing is allowed: the embedded broker serves the pair,
// not a site's general traffic (that is what `broker: external` is for).
import type { Role } from "../../core/types.js";

export const prefixOf = (pairId: string): string => `tandem/${pairId}/`;

/** `line1.tank1.level` → `tandem/line1/tags/line1/tank1/level` */
export function tagTopic(prefix: string, tag: string): string {
  return `${prefix}tags/${tag.split(".").join("/")}`;
}

/** the tag a write request's topic names (`…/tags/a/b/set` → `a.b`), or null when it is not one */
export function tagOfSetTopic(prefix: string, topic: string): string | null {
  const head = `${prefix}tags/`;
  if (!topic.startsWith(head) || !topic.endsWith("/set")) return null;
  const parts = topic.slice(head.length, -"/set".length).split("/");
  if (parts.length === 0 || parts.some((p) => p === "" || p.includes("+") || p.includes("#") || p.includes("."))) return null;
  return parts.join(".");
}

/** a topic name or filter a client sent: a reason to refuse it, or null */
export function topicProblem(topic: string, maxLength: number): string | null {
  if (typeof topic !== "string" || topic.length === 0) return "an empty topic";
  if (topic.length > maxLength) return `a topic of ${topic.length} characters (mqtt.maxTopicLength is ${maxLength})`;
  if (topic.includes("\u0000")) return "a topic with a NUL character";
  return null;
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** why `role` may not subscribe to `filter`, or null when it may */
export function subscribeProblem(prefix: string, filter: string): string | null {
  // a filter reaches only under the prefix when the prefix is spelled out before any wildcard
  if (filter.startsWith(prefix)) return null;
  if (`${filter}/` === prefix) return null;
  return `only topics under ${prefix} are served here`;
}

/** why `role` may not publish to `topic`, or null when it may */
export function publishProblem(prefix: string, role: Role, topic: string): string | null {
  if (tagOfSetTopic(prefix, topic) === null) return `clients publish only write requests (${prefix}tags/<tag>/set); ${topic.startsWith(prefix) ? "this topic is Tandem's own" : `only topics under ${prefix} are served here`}`;
  if (RANK[role] < RANK.operator) return `a tag write needs the operator role (this login is ${role})`;
  return null;
}

/**
 * A write request's payload: `{"value": V}` or a bare JSON value. Returns the
 * value, or a reason the payload is not one.
 */
export function parseSetPayload(payload: Buffer): { value: unknown } | { problem: string } {
  const text = payload.toString("utf8");
  if (text.trim() === "") return { problem: "an empty payload (send {\"value\": …} or a JSON value)" };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: "the payload is not JSON (send {\"value\": …} or a JSON value)" };
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (!("value" in o)) return { problem: "an object without a 'value' field" };
    return { value: o.value };
  }
  return { value: v };
}
