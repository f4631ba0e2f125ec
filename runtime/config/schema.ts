// The node configuration: one YAML file per node, validated here. Unknown
// keys are errors (strict objects), every problem is reported with its key
// path. Sections that a later version fills in are refused with a clear
// reason rather than silently ignored.
import { z } from "zod";
import { LOG_LEVELS, ROLES, type HostPort } from "../../core/types.js";
import { FACILITIES, type Facility } from "../audit/facilities.js";
import { checkWatchdog, checkWriteTimeouts, driversSection, watchdogSection } from "../../drivers/config-schema.js";
import { trustedAddress } from "../http/login-limits.js";

export type { HostPort };

import { hostPort } from "./host-port.js";
import { checkServices, servicesSection } from "../services/config-schema.js";
import { databaseSection, replicationSection } from "./replication-schema.js";
import { processesSection } from "../processes/config-schema.js";
import { historySection } from "../history/config-schema.js";
import { eventsSection } from "../events/config-schema.js";
import { mqttSection } from "../mqtt/config-schema.js";
import { opcuaSection } from "../opcua/config-schema.js";
import { monitoringSection } from "../monitoring/config-schema.js";
import { backupSection } from "../backup/config-schema.js";

export { parseHostPort, hostPort } from "./host-port.js";

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "expected 1–64 letters, digits, '_', '.', '-' starting with a letter or digit");

const key = z.string().min(32, "a key needs at least 32 characters (use ${ENV_VAR} to keep it out of the file)");

const ms = (min: number, max: number) => z.number().int(`expected whole milliseconds`).min(min).max(max);

const logLevel = z.enum(LOG_LEVELS);

export const linkSchema = z.strictObject({
  name: id,
  /** local UDP address heartbeats are received on */
  bind: hostPort,
  /** the peer's UDP heartbeat address on this link */
  peer: hostPort,
});

const userSchema = z.strictObject({
  name: z.string().min(1).max(64),
  role: z.enum(ROLES),
  /** scrypt$N$r$p$salt$hash, from `tandem hash-password` */
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, "expected a hash from `tandem hash-password` (scrypt$…)"),
});

/** http.tls: HTTPS for the API and HMI (runtime/http/tls.ts, docs/security.md) */
const httpTlsSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** PEM certificate (leaf first, then intermediates); relative paths are resolved against the config file */
    certFile: z.string().min(1).optional(),
    /** PEM private key of certFile, without a passphrase */
    keyFile: z.string().min(1).optional(),
    /** PEM certificate of the site CA that signed certFile: what `tandem … --config FILE` trusts */
    caFile: z.string().min(1).optional(),
    /** extra DNS names or addresses for a generated self-signed certificate */
    names: z.array(z.string().min(1).max(253)).max(32).default([]),
  })
  .superRefine((t, ctx) => {
    if ((t.certFile === undefined) !== (t.keyFile === undefined))
      ctx.addIssue({ code: "custom", path: [t.certFile === undefined ? "certFile" : "keyFile"], message: "certFile and keyFile go together" });
  })
  .prefault({});

/** http.limits: the HTTP server as a transport (runtime/http/limits.ts) */
const httpLimitsSchema = z
  .strictObject({
    maxConnections: z.number().int().min(1).max(100_000).default(256),
    maxConnectionsPerAddress: z.number().int().min(1).max(100_000).default(32),
    headersTimeoutMs: ms(1000, 120_000).default(10_000),
    requestTimeoutMs: ms(1000, 600_000).default(30_000),
  })
  .superRefine((l, ctx) => {
    if (l.maxConnectionsPerAddress > l.maxConnections)
      ctx.addIssue({ code: "custom", path: ["maxConnectionsPerAddress"], message: `must be at most maxConnections (${l.maxConnections})` });
    if (l.headersTimeoutMs > l.requestTimeoutMs)
      ctx.addIssue({ code: "custom", path: ["headersTimeoutMs"], message: `must be at most requestTimeoutMs (${l.requestTimeoutMs})` });
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    pair: z.strictObject({
      id,
      /** shared secret of the pair: authenticates every peer message (HMAC-SHA256) */
      key,
    }),
    node: z.strictObject({
      id,
      /** preferred role; the current state is active/standby */
      role: z.enum(["main", "secondary"]),
      /** epoch, audit log and other node state live here; relative paths are resolved against the config file */
      dataDir: z.string().min(1),
      /** a clean stop (SIGTERM) that takes longer than this ends anyway: what is left is killed and named in the log */
      stopTimeoutMs: ms(1000, 3_600_000).default(30_000),
      /** this node's share for balanced services placed by instances-per-capacity */
      capacity: z.number().int().min(1).max(1000).default(1),
      /** `tandem service install`: the system user the node runs as */
      serviceUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "expected a system user name (lower case, 1–32 characters)").default("tandem"),
      /** `tandem service install`: the memory limit of the node and everything it runs (its services); absent: computed (docs/operations.md) */
      memoryMaxMB: z.number().int().min(256).max(1_048_576).optional(),
      /** `tandem service install`: the open files the node may hold (sockets, services' pipes, database files) */
      maxOpenFiles: z.number().int().min(1024).max(1_048_576).default(65_536),
    }),
    peer: z.strictObject({
      id,
      /** this node's TCP peer-connection listener */
      listen: hostPort,
      /** the peer's TCP peer-connection listener */
      address: hostPort,
      /** the peer's HTTP address (http://host:port), named to clients this node refuses while it is standby */
      api: z.string().regex(/^https?:\/\/[^\s/]+\/?$/, "expected http://host:port or https://host:port").optional(),
      /** one or more heartbeat links; losing one of several is not a failure */
      links: z.array(linkSchema).min(1, "at least one heartbeat link is needed"),
      /** mutual TLS on the peer connection, under the HMAC (PEM files; relative paths are resolved against the config file) */
      tls: z
        .strictObject({
          /** the site CA: the peer's certificate must chain to it */
          ca: z.string().min(1),
          /** this node's certificate and private key */
          cert: z.string().min(1),
          key: z.string().min(1),
          /** the name the peer's certificate must carry (DNS subjectAltName or CN); any certificate from the CA when absent */
          peerName: z.string().min(1).max(253).optional(),
        })
        .optional(),
    }),
    heartbeat: z
      .strictObject({
        /** every link carries a heartbeat this often; the active renews its lease (peer and witness) as often */
        intervalMs: ms(10, 10_000).default(50),
        /** a link with no valid heartbeat for this long is down */
        timeoutMs: ms(20, 60_000).default(500),
        /** dead-process path: peer connection reset AND heartbeats missing for this many intervals */
        deadProcessMisses: z.number().int().min(2).max(100).default(3),
        /** accepted out-of-order window for sequence numbers */
        replayWindow: z.number().int().min(1).max(1024).default(64),
      })
      .prefault({}),
    witness: z
      .strictObject({
        address: hostPort,
        /** key shared with the witness for this pair; defaults to pair.key */
        key: key.optional(),
        /** how long to wait for a witness answer before counting it unreachable */
        timeoutMs: ms(10, 10_000).default(250),
      })
      .optional(),
    takeover: z
      .strictObject({
        leaseMs: ms(100, 60_000).default(1000),
        /** the active stops acting when less than this is left on its lease */
        leaseSafetyMs: ms(1, 10_000).default(150),
        /** 0 = only an operator confirms a held takeover */
        autoConfirmMs: ms(0, 86_400_000).default(0),
        /** a starting node listens this long for an active peer before it claims the role */
        startupWaitMs: ms(0, 60_000).default(1500),
        /**
         * the service level counts in an election only once every device had
         * its first connect attempt, or after this long from the node's start
         */
        levelGraceMs: ms(0, 600_000).default(15_000),
        /** cause 4: switch over when the active's service level stays this far below the standby's */
        serviceLevelMargin: z.number().int().min(1).max(255).default(50),
        serviceLevelForMs: ms(0, 3_600_000).default(5000),
        /** how long a switchover may take before it is abandoned */
        switchoverTimeoutMs: ms(100, 60_000).default(3000),
      })
      .prefault({}),
    failback: z
      .strictObject({
        mode: z.enum(["manual", "automatic"]).default("manual"),
        /** automatic: the preferred main must be healthy for this long first */
        healthyForMs: ms(0, 86_400_000).default(60_000),
      })
      .prefault({}),
    http: z
      .strictObject({
        listen: hostPort,
        users: z.array(userSchema).default([]),
        /** /metrics needs a viewer login when true (the default); false opens it to anyone who can reach the port */
        metricsAuth: z.boolean().default(true),
        /** workstations (addresses or CIDR networks) whose logins skip the per-account brute-force limit */
        trustedAddresses: z.array(trustedAddress).default([]),
        /** HMI session lifetime */
        sessionTtlMs: ms(60_000, 7 * 86_400_000).default(8 * 3_600_000),
        tls: httpTlsSchema,
        limits: httpLimitsSchema,
      }),
    log: z
      .strictObject({
        level: logLevel.default("info"),
        /** per-component levels, e.g. { peer: debug } */
        components: z.record(z.string(), logLevel).default({}),
        /** a file to append JSON lines to; stdout when absent */
        file: z.string().optional(),
        /** the most bytes of log lines held while the log is slow (a slow disk, a full pipe); more are dropped and counted */
        bufferBytes: z.number().int().min(65_536).max(1_073_741_824).default(4 * 1024 * 1024),
      })
      .prefault({}),
    audit: z
      .strictObject({
        /** the audit chain's HMAC key (use ${ENV_VAR}); when absent the node makes one in its data dir (audit.key) */
        key: key.optional(),
        /** a copy of every audit line to syslog: RFC 5424 over UDP */
        syslog: z
          .strictObject({
            /** the syslog server's UDP address, e.g. 127.0.0.1:514 for the local rsyslog (imudp) */
            address: hostPort,
            facility: z.enum(Object.keys(FACILITIES) as [Facility, ...Facility[]]).default("authpriv"),
            appName: z.string().regex(/^[\x21-\x7e]{1,48}$/, "expected 1–48 printable ASCII characters, no spaces").default("tandem"),
          })
          .optional(),
      })
      .prefault({}),
    drivers: driversSection.optional(),
    watchdog: watchdogSection.optional(),
    database: databaseSection,
    replication: replicationSection,
    services: servicesSection.default({}),
    processes: processesSection,
    history: historySection,
    events: eventsSection,
    mqtt: mqttSection,
    /** the node's OPC UA server (docs/opcua-server.md); absent: none */
    opcua: opcuaSection,
    backup: backupSection,
    /** where this node's Tandem versions are installed (tandem upgrade, tandem rollback) */
    upgrade: z
      .strictObject({
        /** the install root (ROOT/versions/<version>, ROOT/current, ROOT/previous); default: the one the node runs from */
        root: z.string().min(1).optional(),
        /** versions kept in all, current and previous included */
        keep: z.number().int().min(2).max(50).default(3),
      })
      .prefault({}),
    monitoring: monitoringSection,
  })
  .superRefine((c, ctx) => {
    for (const i of crossSectionIssues(c)) ctx.addIssue({ code: "custom", path: i.path, message: i.message });
  });

type Section = keyof TandemConfig;

/**
 * The checks across keys and sections. `ok` names the sections that passed
 * their own checks: a check runs only when all the sections it reads did, so
 * the config loader runs them too when another section has a shape error
 * (every problem is reported at once) without judging a broken section.
 */
export function crossSectionIssues(c: Partial<TandemConfig>, ok?: ReadonlySet<string>): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const has = (...sections: Section[]) => sections.every((s) => (ok ? ok.has(s) : true));
  const issue = (path: (string | number)[], message: string) => out.push({ path, message });
  if (has("node", "peer") && c.node && c.peer) {
    if (c.node.id === c.peer.id) issue(["peer", "id"], `must differ from node.id ('${c.node.id}')`);
  }
  if (has("peer") && c.peer) {
    const names = new Set<string>();
    c.peer.links.forEach((l, i) => {
      if (names.has(l.name)) issue(["peer", "links", i, "name"], `duplicate link name '${l.name}'`);
      names.add(l.name);
    });
  }
  const hb = has("heartbeat") ? c.heartbeat : undefined;
  const to = has("takeover") ? c.takeover : undefined;
  if (hb && hb.timeoutMs <= hb.intervalMs) issue(["heartbeat", "timeoutMs"], `must be longer than heartbeat.intervalMs (${hb.intervalMs})`);
  if (to) {
    if (to.leaseSafetyMs >= to.leaseMs / 2) issue(["takeover", "leaseSafetyMs"], `must be less than half of takeover.leaseMs (${to.leaseMs})`);
    if (to.startupWaitMs < to.leaseMs)
      issue(["takeover", "startupWaitMs"], `must be at least takeover.leaseMs (${to.leaseMs}): a restarted node has forgotten the leases it granted before`);
  }
  if (hb && to && to.leaseMs <= hb.intervalMs * 2)
    issue(["takeover", "leaseMs"], `must be more than two heartbeat intervals (${hb.intervalMs * 2}) or every lease runs out between renewals`);
  if (has("drivers", "watchdog")) for (const i of checkWatchdog(c.drivers, c.watchdog)) issue(i.path, i.message);
  // a PLC write must be able to finish inside the lease it was allowed under (drivers/manager.ts)
  if (hb && to && has("drivers")) {
    const budget = to.leaseMs - to.leaseSafetyMs - hb.intervalMs;
    const budgetText = `takeover.leaseMs − takeover.leaseSafetyMs − heartbeat.intervalMs = ${budget} ms`;
    for (const i of checkWriteTimeouts(c.drivers, budget, budgetText)) issue(i.path, i.message);
  }
  if (has("drivers", "history") && c.drivers && c.history) {
    c.drivers.tags.forEach((t, i) => {
      const h = t.history;
      if (!h) return;
      const min = h.minIntervalMs ?? c.history!.minIntervalMs;
      const max = h.maxIntervalMs ?? c.history!.maxIntervalMs;
      if (min > 0 && max > 0 && max < min) issue(["drivers", "tags", i, "history", "maxIntervalMs"], `must be at least the tag's minIntervalMs (${min})`);
    });
  }
  if (has("services") && c.services) for (const i of checkServices(c.services)) issue(i.path, i.message);
  if (has("mqtt", "http") && c.mqtt && c.http) {
    const t = c.mqtt.tls;
    if (t.enabled && c.mqtt.broker === "embedded" && !t.certFile && !c.http.tls.enabled)
      issue(["mqtt", "tls"], "give certFile and keyFile, or enable http.tls to use the node's HTTPS certificate");
  }
  if (has("opcua", "http", "mqtt") && c.opcua?.server && c.http) {
    // two servers of this node on one address: the second would fail the node's start
    const ua = c.opcua.server.listen;
    const same = (a: HostPort | undefined) => a !== undefined && a.port === ua.port && (a.host === ua.host || ["0.0.0.0", "::"].includes(a.host) || ["0.0.0.0", "::"].includes(ua.host));
    if (same(c.http.listen)) issue(["opcua", "server", "listen"], `port ${ua.port} is http.listen's`);
    if (c.mqtt?.broker === "embedded" && same(c.mqtt.listen)) issue(["opcua", "server", "listen"], `port ${ua.port} is mqtt.listen's`);
  }
  if (has("http") && c.http) {
    const users = new Set<string>();
    c.http.users.forEach((u, i) => {
      if (users.has(u.name)) issue(["http", "users", i, "name"], `duplicate user '${u.name}'`);
      users.add(u.name);
    });
  }
  return out;
}

export type TandemConfig = z.output<typeof configSchema>;
export type LinkConfig = z.output<typeof linkSchema>;
export type LogLevel = z.output<typeof logLevel>;
