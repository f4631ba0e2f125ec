// The standby of the replication bench (replication.ts), in a process of its
// own as on a real pair: a Replicator following over its own store, behind a
// real PeerLink. Started by the bench as
//   node dist/test/bench/replication-peer.js '<json options>'
// with the pair's secret in TANDEM_BENCH_SECRET and an IPC channel. It says
// {t:"ready"} once its link listens; it answers {t:"state"} with what its store
// holds (and, with `sum`, a checksum of rows 1..sum), and {t:"stop"} by
// stopping and exiting. It exits at once when the bench goes away.
import { mkdtempSync, rmSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileReceivedLog } from "../../redundancy/replication/received-log.js";
import type { ReplicationSettings } from "../../redundancy/replication/settings.js";
import { BenchLog, hollow, openStore, PROBE_TOPIC, startNode, timed, type BenchNode, type NodePorts, type StoreSpec, type StoreTimes } from "./replication-node.js";

export interface PeerOptions {
  store: StoreSpec;
  settings: ReplicationSettings;
  ports: NodePorts;
  incarnation: number;
  /** the ceiling run: a standby that stores nothing (replication-node.ts hollow), no received-rows log */
  hollow?: boolean;
}

export type ToPeer = { t: "state"; sum?: number } | { t: "stop" };
export type FromPeer =
  | { t: "ready" }
  | {
      t: "state";
      lastSeq: number;
      /** sha256 over the canonical rows 1..sum, as one range (storage.checksums) */
      hash: string | null;
      follower: { refused: number; catchUp: unknown };
      /** the bench's probe messages received */
      probes: number;
      /** time in this store's apply() since the process started */
      times: StoreTimes;
      link: Record<string, number>;
      tcp: BenchNode["tcp"];
      log: { warnings: number; errors: number; kept: string[]; gaps: number };
      /** how late this process's event loop ran its callbacks since its link listened (its heartbeats and sockets wait as long), ms */
      loopDelay: { p50: number; p99: number; max: number };
    }
  | { t: "stopped" }
  | { t: "error"; message: string };

const send = (m: FromPeer) => process.send?.(m);

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? "") as PeerOptions;
  const secret = process.env.TANDEM_BENCH_SECRET;
  if (!secret || !process.send) throw new Error("replication-peer: started by replication.ts only (needs TANDEM_BENCH_SECRET and an IPC channel)");
  // the bench gone (killed, crashed): nothing is left behind
  process.on("disconnect", () => process.exit(2));
  const blog = new BenchLog("standby", (l) => process.stderr.write(`[standby] ${l}\n`));
  const opened = await openStore(o.store);
  const { storage, times } = timed(o.hollow ? hollow(opened) : opened);
  let probes = 0;
  const onApp = (topic: string) => {
    if (topic === PROBE_TOPIC) probes++;
  };
  // the received-rows log in a directory of its own beside the stores (--no-received-log: none, the database acknowledges)
  const logDir = process.env.TANDEM_BENCH_NO_RECEIVED_LOG || o.hollow ? null : mkdtempSync(join(tmpdir(), "tandem-bench-received-"));
  process.on("exit", () => logDir && rmSync(logDir, { recursive: true, force: true }));
  const received = logDir ? new FileReceivedLog(join(logDir, "received.log"), o.settings.syncAck !== "written") : undefined;
  const node = await startNode({ nodeId: "b", lead: false, storage, settings: o.settings, ports: o.ports, secret, incarnation: o.incarnation, log: blog.logger, onApp, received });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  process.on("message", (m: ToPeer) => {
    void (async () => {
      try {
        if (m.t === "state") {
          const st = await storage.state();
          const hash = m.sum ? ((await storage.checksums(1, m.sum, m.sum))[0]?.hash ?? null) : null;
          const f = node.repl.status();
          send({
            t: "state",
            lastSeq: st.lastSeq,
            hash,
            follower: { refused: f.refused, catchUp: f.catchUp },
            probes,
            times,
            link: node.link.counters(),
            tcp: node.tcp,
            log: { warnings: blog.warnings, errors: blog.errors, kept: blog.kept, gaps: blog.infos.filter((i) => i.msg.includes("asking the active to resume")).length },
            loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
          });
        } else if (m.t === "stop") {
          await node.stop();
          await storage.close();
          received?.close();
          send({ t: "stopped" });
          process.disconnect();
          process.exit(0);
        }
      } catch (err) {
        send({ t: "error", message: (err as Error).stack ?? String(err) });
      }
    })();
  });
  send({ t: "ready" });
}

main().catch((err) => {
  process.stderr.write(`[standby] ${(err as Error).stack ?? err}\n`);
  send({ t: "error", message: (err as Error).message });
  process.exit(1);
});
