// From a node's config to what the pair runtime (redundancy/) needs: the role
// machine's parameters, the peer link's addresses and the witness. The
// redundancy layer never sees the config schema.
import type { Logger } from "../core/logger.js";
import type { EpochStore } from "../redundancy/epoch-store.js";
import type { PairRuntimeOptions } from "../redundancy/pair-runtime.js";
import type { RoleParams } from "../redundancy/role-types.js";
import { keyFromSecret } from "../redundancy/wire.js";
import type { TandemConfig } from "./config/schema.js";

export function roleParams(c: TandemConfig): RoleParams {
  return {
    nodeId: c.node.id,
    peerId: c.peer.id,
    role: c.node.role,
    links: c.peer.links.map((l) => l.name),
    intervalMs: c.heartbeat.intervalMs,
    timeoutMs: c.heartbeat.timeoutMs,
    deadProcessMisses: c.heartbeat.deadProcessMisses,
    leaseMs: c.takeover.leaseMs,
    leaseSafetyMs: c.takeover.leaseSafetyMs,
    autoConfirmMs: c.takeover.autoConfirmMs,
    startupWaitMs: c.takeover.startupWaitMs,
    serviceLevelMargin: c.takeover.serviceLevelMargin,
    serviceLevelForMs: c.takeover.serviceLevelForMs,
    switchoverTimeoutMs: c.takeover.switchoverTimeoutMs,
    failback: c.failback.mode,
    failbackHealthyForMs: c.failback.healthyForMs,
    witness: c.witness !== undefined,
    plcWatchdog: c.watchdog !== undefined,
  };
}

export function pairRuntimeOptions(c: TandemConfig, store: EpochStore, log: Logger): PairRuntimeOptions {
  const pairKey = keyFromSecret(c.pair.key);
  return {
    params: roleParams(c),
    peer: {
      pairId: c.pair.id,
      key: pairKey,
      links: c.peer.links,
      listen: c.peer.listen,
      peerAddress: c.peer.address,
      replayWindow: c.heartbeat.replayWindow,
      reconnectMs: c.heartbeat.intervalMs,
    },
    witness: c.witness ? { address: c.witness.address, key: c.witness.key ? keyFromSecret(c.witness.key) : pairKey, timeoutMs: c.witness.timeoutMs } : null,
    store,
    log,
  };
}
