// Both nodes' pair-wide configurations compared (pair-config.ts): each node
// sends its version and section hashes to the peer every few seconds over
// the peer link (an `app` frame, checked: it came over the network); a
// difference is an alarm of the pair naming the sections, is shown in
// status, and holds automatic failback and the service level's switchover
// (the role machine's configMismatch) until both run the same.
import type { Logger } from "../../core/logger.js";
import { differingSections, PAIR_WIDE, type PairConfigVersion } from "./pair-config.js";

export const PEER_CONFIG_TOPIC = "config";
const SEND_EVERY_MS = 2000;
const HEX = /^[0-9a-f]{16}$/;

export interface ConfigView {
  /** the Tandem version this node runs, and the peer's as it last said (a rolling upgrade shows both) */
  tandem: string;
  peerTandem: string | null;
  version: string;
  /** the peer's, as it last said; null before it has */
  peerVersion: string | null;
  /** null: not known yet (the peer has not said) */
  match: boolean | null;
  /** the pair-wide sections that differ */
  differs: string[];
}

export class ConfigWatch {
  private timer: NodeJS.Timeout | null = null;
  private peer: { version: string; differs: string[] } | null = null;
  private peerTandem: string | null = null;

  constructor(
    private readonly o: {
      nodeId: string;
      peerId: string;
      mine: PairConfigVersion;
      /** the Tandem version this node runs */
      tandem: string;
      send(data: Record<string, unknown>): boolean;
      setMismatch(why: string | null): void;
      event(severity: "info" | "alarm", text: string): void;
      log: Logger;
    },
  ) {}

  start(): void {
    this.send();
    this.timer = setInterval(() => this.send(), SEND_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private send(): void {
    this.o.send({ version: this.o.mine.version, sections: this.o.mine.sections, tandem: this.o.tandem });
  }

  /** The peer's versions, as received. */
  onPeer(data: Record<string, unknown>): void {
    const s = data.sections as Record<string, unknown> | undefined;
    if (typeof data.version !== "string" || !HEX.test(data.version) || !s || typeof s !== "object" || !PAIR_WIDE.every((k) => typeof s[k] === "string" && HEX.test(s[k] as string))) {
      this.o.log.warn(`dropped the peer's configuration version: not one as Tandem sends it`);
      return;
    }
    if (typeof data.tandem === "string" && /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/.test(data.tandem)) this.peerTandem = data.tandem;
    const differs = differingSections(this.o.mine, { sections: s as Record<string, string> });
    const before = this.peer;
    this.peer = { version: data.version, differs };
    if (before && before.version === data.version) return;
    const mine = this.o.mine.version;
    if (differs.length === 0) {
      this.o.setMismatch(null);
      if (before && before.differs.length) {
        this.o.log.info(`back to normal: ${this.o.nodeId} and ${this.o.peerId} run the same configuration (${mine})`);
        this.o.event("info", `back to normal: ${this.o.nodeId} and ${this.o.peerId} run the same configuration (${mine})`);
      }
      return;
    }
    const why = `${this.o.peerId} runs configuration ${data.version}, ${this.o.nodeId} runs ${mine}: ${differs.join(", ")} differ`;
    this.o.setMismatch(why);
    const text = `${why}. Automatic failback and switchover wait until both run the same: make the config files alike (tandem status on each node shows its version) and restart the node that differs`;
    this.o.log.warn(text);
    this.o.event("alarm", text);
  }

  view(): ConfigView {
    return { tandem: this.o.tandem, peerTandem: this.peerTandem, version: this.o.mine.version, peerVersion: this.peer?.version ?? null, match: this.peer ? this.peer.differs.length === 0 : null, differs: this.peer?.differs ?? [] };
  }

  /** why the nodes differ, or null (a switchover refuses with it) */
  mismatch(): string | null {
    return this.peer && this.peer.differs.length ? `${this.o.peerId} runs configuration ${this.peer.version}, ${this.o.nodeId} runs ${this.o.mine.version} (${this.peer.differs.join(", ")} differ)` : null;
  }
}
