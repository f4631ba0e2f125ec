// The node's side of distributing a configuration (config/config-push.ts):
// on the active, `tandem config push` builds the push from its config file,
// sends it to the standby and waits for its answer; on the standby, a push
// from the active peer is applied to its own config file and answered. The
// version each node has on disk, when it is not the one it runs, is shown
// with the comparison of both nodes' running versions (config-watch.ts).
import { randomUUID } from "node:crypto";
import { TandemError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { isActiveState } from "../core/types.js";
import type { PairRuntime } from "../redundancy/pair-runtime.js";
import { applyPush, buildPush, checkPush, PEER_PUSH_RESULT_TOPIC, PEER_PUSH_TOPIC, pushError, type PushResult } from "./config/config-push.js";

const ANSWER_MS = 15_000;

export interface PushAnswer {
  /** the standby that took it */
  node: string;
  /** the pair-wide version now in both nodes' files */
  version: string;
  /** where the standby kept the file it replaced */
  kept: string;
  /** the version each node runs until it is restarted */
  running: string;
}

export class NodeConfig {
  private readonly waiting = new Map<string, { resolve: (r: PushResult) => void; timer: NodeJS.Timeout }>();
  /** the pair-wide version in this node's config file when it is not the one it runs (after a push), else null */
  onDisk: string | null = null;

  constructor(
    private readonly o: {
      configFile: string | undefined;
      peerId: string;
      running: string;
      runtime: PairRuntime;
      env: NodeJS.ProcessEnv;
      log: Logger;
    },
  ) {}

  /** On the active: sends the pair-wide part of its config file to the standby; resolves once the standby has it on disk. */
  async push(notActive: (what: string) => TandemError): Promise<PushAnswer> {
    const rt = this.o.runtime;
    if (!isActiveState(rt.state.state)) throw notActive("config push");
    if (!this.o.configFile) throw new TandemError("TANDEM_ERR_CONFIG_PUSH", ["this node was not started from a config file"]);
    let push;
    try {
      push = buildPush(this.o.configFile, this.o.env, randomUUID());
    } catch (err) {
      throw new TandemError("TANDEM_ERR_CONFIG_PUSH", [`this node's config file ${this.o.configFile} does not check: ${pushError(err)}`]);
    }
    const answer = new Promise<PushResult>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(push.id);
        resolve({ id: push.id, ok: false, error: `${this.o.peerId} did not answer within ${ANSWER_MS / 1000} s` });
      }, ANSWER_MS);
      this.waiting.set(push.id, { resolve, timer });
    });
    if (!rt.sendPeerApp(PEER_PUSH_TOPIC, push as unknown as Record<string, unknown>)) {
      this.settle({ id: push.id, ok: false, error: `the peer connection to ${this.o.peerId} is down` });
    }
    const r = await answer;
    if (!r.ok) throw new TandemError("TANDEM_ERR_CONFIG_PUSH", [`${this.o.peerId} did not take it: ${r.error ?? "no reason given"}`]);
    this.onDisk = push.version === this.o.running ? null : push.version;
    this.o.log.info({ version: push.version, kept: r.kept }, `configuration ${push.version} pushed to ${this.o.peerId}, which kept its previous file as ${r.kept}; each node runs it from its next start`);
    return { node: this.o.peerId, version: push.version, kept: r.kept ?? "", running: this.o.running };
  }

  /** A push from the peer (app topic config-push): applied only from the active peer, while this node is standby. */
  onPush(data: Record<string, unknown>): void {
    const rt = this.o.runtime;
    const answer = (r: PushResult) => rt.sendPeerApp(PEER_PUSH_RESULT_TOPIC, r as unknown as Record<string, unknown>);
    const p = checkPush(data);
    if (typeof p === "string") {
      this.o.log.warn(`refused a configuration push from ${this.o.peerId}: ${p}`);
      if (typeof data.id === "string" && data.id.length <= 64) answer({ id: data.id, ok: false, error: p });
      return;
    }
    const s = rt.state;
    if (s.state !== "standby" || !isActiveState(s.peer.state)) return void answer({ id: p.id, ok: false, error: `${rt.params.nodeId} is ${s.state} and takes a configuration only from the active` });
    if (!this.o.configFile) return void answer({ id: p.id, ok: false, error: `${rt.params.nodeId} was not started from a config file` });
    try {
      const r = applyPush(this.o.configFile, p, this.o.env, new Date());
      if (r.version !== p.version) this.o.log.warn(`the pushed configuration is version ${r.version} here, ${p.version} on ${this.o.peerId}: a section reads differently with this node's environment`);
      this.onDisk = r.version === this.o.running ? null : r.version;
      this.o.log.info({ version: r.version, kept: r.kept }, `configuration ${r.version} from ${this.o.peerId} written to ${this.o.configFile} (the previous one kept as ${r.kept}); it runs from this node's next start`);
      answer({ id: p.id, ok: true, version: r.version, kept: r.kept });
    } catch (err) {
      const why = pushError(err);
      this.o.log.warn(`refused the configuration ${p.version} from ${this.o.peerId}: ${why}`);
      answer({ id: p.id, ok: false, error: why });
    }
  }

  /** The standby's answer (app topic config-push-result). */
  onResult(data: Record<string, unknown>): void {
    if (typeof data.id !== "string" || typeof data.ok !== "boolean") return;
    this.settle({ id: data.id, ok: data.ok, version: typeof data.version === "string" ? data.version : undefined, kept: typeof data.kept === "string" ? data.kept.slice(0, 500) : undefined, error: typeof data.error === "string" ? data.error.slice(0, 2000) : undefined });
  }

  private settle(r: PushResult): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    clearTimeout(w.timer);
    w.resolve(r);
  }

  stop(): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      w.resolve({ id, ok: false, error: "this node is stopping" });
    }
    this.waiting.clear();
  }
}
