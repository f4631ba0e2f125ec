// From a node's config to what the pair runtime (redundancy/) needs: the role
// machine's parameters, the peer link's addresses and the witness. The
// redundancy layer never sees the config schema.
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { EpochStore } from "../redundancy/epoch-store.js";
import type { PairRuntimeOptions } from "../redundancy/pair-runtime.js";
import type { PeerTlsOptions } from "../redundancy/peer-tls.js";
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
      ...(c.peer.tls ? { tls: peerTls(c.peer.tls) } : {}),
    },
    witness: c.witness ? { address: c.witness.address, key: c.witness.key ? keyFromSecret(c.witness.key) : pairKey, timeoutMs: c.witness.timeoutMs } : null,
    store,
    log,
  };
}

/** peer.tls's files, read and checked now: a missing file or a key that does not match its certificate stops the start with the key path. */
function peerTls(t: NonNullable<TandemConfig["peer"]["tls"]>): PeerTlsOptions {
  const read = (k: "ca" | "cert" | "key") => {
    try {
      return readFileSync(t[k]);
    } catch (err) {
      throw new ConfigError([{ path: `peer.tls.${k}`, message: `cannot read '${t[k]}': ${(err as Error).message}` }]);
    }
  };
  const out: PeerTlsOptions = { ca: read("ca"), cert: read("cert"), key: read("key"), ...(t.peerName ? { peerName: t.peerName } : {}) };
  try {
    createSecureContext({ ca: out.ca, cert: out.cert, key: out.key });
  } catch (err) {
    throw new ConfigError([{ path: "peer.tls", message: `the CA, certificate or key is not usable (PEM files expected; the key must match the certificate): ${(err as Error).message}` }]);
  }
  return out;
}
