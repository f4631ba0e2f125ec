// Where the active is, for a node that refuses what only the active does
// (confirm, a tag write, a record write …). The refusal names the active's
// node id and API address, so a client (the CLI, the HMI, a script) goes
// there instead of guessing; the HTTP layer turns it into 421 with a
// Location (runtime/http/misdirected.ts), and the CLI prints where to run
// the command instead (activeAdvice). Pure: the node passes what it
// knows of itself and of its peer.
import { TandemError } from "../core/errors.js";
import { isActiveState, type NodeState } from "../core/types.js";

/** What a TANDEM_ERR_NOT_ACTIVE refusal carries: the active's API base (…/api/v1) and node id, each null when not known. */
export interface ActiveHint {
  active: string | null;
  activeNode: string | null;
}

/** What the refusing node knows when it refuses. */
export interface WhereNow {
  nodeId: string;
  state: NodeState;
  peerId: string;
  /** the peer's state as heard on a link now; "unknown" when it is not heard (a peer not heard is not active, whatever it said last) */
  peerState: NodeState | "unknown";
  /** peer.api from the config: http(s)://host:port */
  peerApi?: string | null;
}

export const API_PREFIX = "/api/v1";

/**
 * The API base (http://host:port/api/v1) of a peer.api address, or null when
 * there is none or it is not http(s)://host[:port] with at most a trailing
 * slash (the config checks this too; a value that slips through is not
 * trusted to build a Location from).
 */
export function apiBaseOf(peerApi: string | null | undefined): string | null {
  if (!peerApi) return null;
  const m = /^(https?:\/\/[A-Za-z0-9.\-[\]:]+)\/?$/.exec(peerApi);
  return m ? `${m[1]}${API_PREFIX}` : null;
}

/** The origin (http://host:port) of an API base, where the HMI is; null when it is not one apiBaseOf makes. */
export function originOf(apiBase: string | null | undefined): string | null {
  if (!apiBase || !apiBase.endsWith(API_PREFIX)) return null;
  const origin = apiBase.slice(0, -API_PREFIX.length);
  return apiBaseOf(origin) === apiBase ? origin : null;
}

/** The hint for a node in this situation: the peer, when it is active (or active-held) and heard now. */
export function activeHint(w: WhereNow): ActiveHint {
  if (!isActiveState(w.peerState)) return { active: null, activeNode: null };
  return { active: apiBaseOf(w.peerApi), activeNode: w.peerId };
}

/**
 * The refusal of `what` on a node that is not active: TANDEM_ERR_NOT_ACTIVE
 * whose message says where the active is, or that no active is known and
 * what to do, and whose details are the ActiveHint.
 */
export function notActiveError(what: string, w: WhereNow): TandemError {
  const hint = activeHint(w);
  const me = `node ${w.nodeId} is ${w.state}, not active`;
  let why: string;
  if (hint.activeNode !== null && hint.active !== null) {
    const held = w.peerState === "active-held" ? " (its takeover is held: confirm it there)" : "";
    why = `${me}; the active is node ${hint.activeNode} at ${originOf(hint.active)}${held}: send the request there`;
  } else if (hint.activeNode !== null) {
    why = `${me}; the active is node ${hint.activeNode}, whose HTTP address this node does not know (set peer.api in its config): send the request to node ${hint.activeNode}`;
  } else {
    const peer = w.peerState === "unknown" ? `node ${w.peerId} is not heard on any link` : `node ${w.peerId} is ${w.peerState}`;
    why =
      `${me}, and no active is known (${peer}): check both nodes (tandem status --node …); ` +
      `if node ${w.peerId} is down, this node takes over by itself or waits for an operator to confirm or promote it`;
  }
  return new TandemError("TANDEM_ERR_NOT_ACTIVE", [what, why], hint);
}

/** The CLI's line after a refusal that names the active (421): where to run the command instead; null for any other failure. */
export function activeAdvice(cmd: string, f: { status?: number; where?: { activeNode?: unknown; active?: unknown } }): string | null {
  if (f.status !== 421 || typeof f.where?.activeNode !== "string") return null;
  const origin = originOf(typeof f.where.active === "string" ? f.where.active : null);
  if (origin === null) return null;
  return `  the active is node ${f.where.activeNode} at ${origin}: run the command there (tandem ${cmd} … --node ${origin})`;
}
