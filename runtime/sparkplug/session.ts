// The Sparkplug B edge node's session, as a pure reducer (STYLE.md §1):
// step(state, event) → { state, effects }, no socket, timer or clock. The
// adapter (edge-node.ts) runs the effects in the order given and feeds back
// what the connection, the pair and the host say.
//
// What it keeps true (Sparkplug 3.0, and the pair's promise that a host sees
// one edge node that never lies):
// - only the acting node (active or active-held) connects, so the standby
//   never publishes a Sparkplug message, not even a will;
// - each connection carries a new bdSeq (the one before + 1, 0–255): it is
//   remembered (on disk, and told to the peer) *before* the CONNECT that
//   carries it in its NDEATH will, so the node that takes over next uses the
//   next one; the NBIRTH of that connection carries the same bdSeq, and a
//   late will of an older connection cannot kill a newer session at a host;
// - seq: NBIRTH is 0, every later message of the session (DBIRTH, NDATA,
//   DDATA, DDEATH) the one before + 1, wrapping 255 → 0; NDEATH has none;
// - with a primary host configured, no birth or data until that host's
//   STATE says online (a STATE older than one already seen is ignored);
//   a STATE offline ends the session (NDEATH, disconnect) and the next
//   connection waits for online again, then births afresh;
// - a node that stops acting publishes NDEATH and disconnects.

export type Kind = "NBIRTH" | "NDEATH" | "DBIRTH" | "DDEATH" | "NDATA" | "DDATA";

export interface SessionState {
  acting: boolean;
  /** a primary host is configured: births wait for its STATE online */
  waitForHost: boolean;
  conn: "down" | "connecting" | "up" | "closing";
  /** the bdSeq of the latest connection this pair made (ours, or the peer's as it told us) */
  bdSeq: number;
  /** the newest STATE seen from the primary host (its timestamp orders them) */
  host: { online: boolean; timestamp: number } | null;
  /** STATE online was seen on the current connection */
  hostOnlineHere: boolean;
  born: boolean;
  /** the seq of the last message published in this session */
  seq: number;
  /** device → connected to its PLC (as the drivers say) */
  devices: Record<string, boolean>;
  /** devices with a DBIRTH in this session and no DDEATH since */
  bornDevices: string[];
  retryPending: boolean;
}

export type SessionEvent<B = unknown> =
  | { type: "acting"; on: boolean }
  | { type: "connected" }
  | { type: "closed" }
  | { type: "retry" }
  | { type: "host"; online: boolean; timestamp: number }
  | { type: "peer-bdseq"; bdSeq: number }
  | { type: "rebirth" }
  | { type: "device"; device: string; up: boolean }
  | { type: "device-rebirth"; device: string }
  | { type: "data"; device: string | null; body: B };

export type SessionEffect<B = unknown> =
  /** persist the bdSeq and tell the peer, before the CONNECT that carries it */
  | { type: "remember"; bdSeq: number }
  /** connect with the NDEATH(bdSeq) will; subscribe to STATE, NCMD, DCMD */
  | { type: "connect"; bdSeq: number }
  | { type: "publish"; kind: "NBIRTH"; seq: number; bdSeq: number }
  | { type: "publish"; kind: "NDEATH"; bdSeq: number }
  | { type: "publish"; kind: "DBIRTH" | "DDEATH"; device: string; seq: number }
  | { type: "publish"; kind: "NDATA"; seq: number; body: B }
  | { type: "publish"; kind: "DDATA"; device: string; seq: number; body: B }
  | { type: "disconnect" }
  | { type: "retry-later" };

export interface Step<B> {
  state: SessionState;
  effects: SessionEffect<B>[];
}

export const nextSeq = (n: number): number => (n + 1) % 256;

export function initialSession(o: { waitForHost: boolean; bdSeq: number; devices: string[] }): SessionState {
  return {
    acting: false,
    waitForHost: o.waitForHost,
    conn: "down",
    bdSeq: ((o.bdSeq % 256) + 256) % 256,
    host: null,
    hostOnlineHere: false,
    born: false,
    seq: 0,
    devices: Object.fromEntries(o.devices.map((d) => [d, false])),
    bornDevices: [],
    retryPending: false,
  };
}

/** NBIRTH (seq 0) and a DBIRTH for every connected device */
function births<B>(s: SessionState, fx: SessionEffect<B>[]): SessionState {
  let seq = 0;
  fx.push({ type: "publish", kind: "NBIRTH", seq, bdSeq: s.bdSeq });
  const up = Object.keys(s.devices).filter((d) => s.devices[d]);
  for (const device of up) {
    seq = nextSeq(seq);
    fx.push({ type: "publish", kind: "DBIRTH", device, seq });
  }
  return { ...s, born: true, seq, bornDevices: up };
}

function connect<B>(s: SessionState, fx: SessionEffect<B>[]): SessionState {
  const bdSeq = nextSeq(s.bdSeq);
  fx.push({ type: "remember", bdSeq }, { type: "connect", bdSeq });
  return { ...s, bdSeq, conn: "connecting", born: false, bornDevices: [], hostOnlineHere: false, retryPending: false };
}

/** a deliberate end of the session: NDEATH while the connection can carry it, then disconnect */
function end<B>(s: SessionState, fx: SessionEffect<B>[]): SessionState {
  if (s.conn === "up") fx.push({ type: "publish", kind: "NDEATH", bdSeq: s.bdSeq });
  fx.push({ type: "disconnect" });
  return { ...s, conn: "closing", born: false, bornDevices: [] };
}

const mayBirth = (s: SessionState) => s.acting && s.conn === "up" && !s.born && (!s.waitForHost || s.hostOnlineHere);

export function step<B>(s: SessionState, e: SessionEvent<B>): Step<B> {
  const fx: SessionEffect<B>[] = [];
  const out = (state: SessionState): Step<B> => ({ state, effects: fx });
  switch (e.type) {
    case "acting": {
      if (e.on === s.acting) return out(s);
      const t = { ...s, acting: e.on };
      if (e.on) return out(t.conn === "down" ? connect(t, fx) : t);
      return out(t.conn === "up" || t.conn === "connecting" ? end(t, fx) : { ...t, retryPending: false });
    }
    case "connected": {
      if (s.conn !== "connecting") return out(s);
      const t: SessionState = { ...s, conn: "up" };
      if (!t.acting) return out(end(t, fx));
      return out(mayBirth(t) ? births(t, fx) : t);
    }
    case "closed": {
      if (s.conn === "down") return out(s);
      const t: SessionState = { ...s, conn: "down", born: false, bornDevices: [] };
      if (!t.acting || t.retryPending) return out(t);
      fx.push({ type: "retry-later" });
      return out({ ...t, retryPending: true });
    }
    case "retry": {
      const t = { ...s, retryPending: false };
      return out(t.acting && t.conn === "down" ? connect(t, fx) : t);
    }
    case "host": {
      if (!Number.isFinite(e.timestamp) || (s.host && e.timestamp < s.host.timestamp)) return out(s);
      const t: SessionState = { ...s, host: { online: e.online, timestamp: e.timestamp }, hostOnlineHere: e.online && s.conn === "up" };
      if (!t.waitForHost) return out(t);
      if (e.online) return out(mayBirth(t) ? births(t, fx) : t);
      // the primary host went away: a session with births ends (the next connection waits for
      // online); one still waiting keeps waiting (the retained offline STATE of a reconnect)
      return out(s.conn === "up" && t.acting && s.born ? end(t, fx) : t);
    }
    case "peer-bdseq":
      // the active's word; a node that acts trusts only its own counter
      if (s.acting || !Number.isInteger(e.bdSeq) || e.bdSeq < 0 || e.bdSeq > 255) return out(s);
      return out({ ...s, bdSeq: e.bdSeq });
    case "rebirth":
      return out(s.born ? births(s, fx) : s);
    case "device": {
      if (!(e.device in s.devices) || s.devices[e.device] === e.up) return out(s);
      const t: SessionState = { ...s, devices: { ...s.devices, [e.device]: e.up } };
      if (!t.born) return out(t);
      const seq = nextSeq(t.seq);
      if (e.up) {
        fx.push({ type: "publish", kind: "DBIRTH", device: e.device, seq });
        return out({ ...t, seq, bornDevices: [...t.bornDevices, e.device] });
      }
      if (!t.bornDevices.includes(e.device)) return out(t);
      fx.push({ type: "publish", kind: "DDEATH", device: e.device, seq });
      return out({ ...t, seq, bornDevices: t.bornDevices.filter((d) => d !== e.device) });
    }
    case "device-rebirth": {
      if (!s.born || !s.bornDevices.includes(e.device)) return out(s);
      const seq = nextSeq(s.seq);
      fx.push({ type: "publish", kind: "DBIRTH", device: e.device, seq });
      return out({ ...s, seq });
    }
    case "data": {
      if (!s.born) return out(s);
      if (e.device !== null && !s.bornDevices.includes(e.device)) return out(s);
      const seq = nextSeq(s.seq);
      fx.push(e.device === null ? { type: "publish", kind: "NDATA", seq, body: e.body } : { type: "publish", kind: "DDATA", device: e.device, seq, body: e.body });
      return out({ ...s, seq });
    }
  }
}
