// The HTTP answer to a TANDEM_ERR_NOT_ACTIVE refusal that says where the
// active is (runtime/active-hint.ts):
// - the active is known with its address: 421 Misdirected Request, a
//   Location with the same path on the active, and the JSON error naming it;
// - the active is known but not its address (no peer.api): 409;
// - no active is known (peer down, a partition, both standby): 503.
// Why 421 and not 307: a 307 makes curl (with -L) and browsers send the
// same POST, with its credentials, to another host by themselves. A confirm
// or a tag write changes the plant; the operator (or the script's author)
// should decide to send it to the other node, knowing it is the other node.
// 421 + Location + the JSON error is explicit, and nothing follows it alone.
import { TandemError } from "../../core/errors.js";
import { API_PREFIX, originOf, type ActiveHint } from "../active-hint.js";

export interface MisdirectedAnswer {
  status: 421 | 409 | 503;
  /** the same path and query on the active; null when its address is not known (or the path is not one to send on) */
  location: string | null;
  body: { error: { code: string; message: string } & ActiveHint };
}

/** The hint a TandemError carries, or null when it is not a NOT_ACTIVE refusal that names one. */
export function hintOf(err: TandemError): ActiveHint | null {
  if (err.code !== "TANDEM_ERR_NOT_ACTIVE") return null;
  const d = err.details as Partial<ActiveHint> | undefined;
  if (!d || typeof d !== "object" || !("activeNode" in d) || !("active" in d)) return null;
  const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : null);
  return { active: str(d.active), activeNode: str(d.activeNode) };
}

/**
 * The same request's place on the active: its origin and the path and query
 * as received, or null. The path is appended as text, never resolved as a
 * URL: "//elsewhere/x" resolved against the active would name another host.
 * Only API paths are sent on; control characters and spaces make it null.
 */
export function locationOn(activeApi: string | null, url: string): string | null {
  const origin = originOf(activeApi);
  if (origin === null) return null;
  if (!url.startsWith(`${API_PREFIX}/`) || /[\u0000-\u0020\u007f-\u009f\\]/.test(url)) return null;
  return `${origin}${url}`;
}

/** The answer for `err` to a request for `url`, or null when `err` carries no hint (the usual error answer then). */
export function misdirectedAnswer(err: TandemError, url: string): MisdirectedAnswer | null {
  const hint = hintOf(err);
  if (!hint) return null;
  const active = hint.activeNode !== null && originOf(hint.active) !== null ? hint.active : null;
  const status = active !== null ? 421 : hint.activeNode !== null ? 409 : 503;
  return { status, location: locationOn(active, url), body: { error: { code: err.code, message: err.message, active, activeNode: hint.activeNode } } };
}

/** a request repeated this soon after its 421 is the Fetch standard's one retry (it comes at once, on a new connection) */
export const REPEAT_WITHIN_MS = 2000;
const REMEMBERED_AT_MOST = 256;

/**
 * The 421s answered lately, by who asked for what (user, address, method,
 * path and query, body). Browsers and Node's fetch send a request answered
 * 421 once more, by themselves, on a new connection: that repeat gets the
 * same answer without reaching the node again, so the refusal is audited
 * once. Only one repeat is answered so: an operator who sends it again
 * after that is refused (and audited) again.
 */
export class MisdirectedRepeats {
  private readonly recent = new Map<string, { at: number; answer: MisdirectedAnswer }>();

  constructor(
    private readonly withinMs = REPEAT_WITHIN_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  static keyOf(user: string, from: string, method: string, url: string, body: unknown): string {
    return JSON.stringify([user, from, method, url, body ?? null]);
  }

  remember(key: string, answer: MisdirectedAnswer): void {
    if (answer.status !== 421) return;
    this.recent.delete(key);
    this.recent.set(key, { at: this.now(), answer });
    // the oldest go first: the map stays small whatever a client sends
    for (const k of this.recent.keys()) {
      if (this.recent.size <= REMEMBERED_AT_MOST) break;
      this.recent.delete(k);
    }
  }

  /** the answer a repeat gets, once; null when the request is not a repeat */
  repeat(key: string): MisdirectedAnswer | null {
    const r = this.recent.get(key);
    if (!r) return null;
    this.recent.delete(key);
    return this.now() - r.at <= this.withinMs ? r.answer : null;
  }
}
