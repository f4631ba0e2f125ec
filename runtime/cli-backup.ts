// `tandem backup [list | now]`, `tandem restore-test` and `tandem config
// [status | push]`: what the requests are, and how their answers read in a
// terminal.
import type { BackupsView } from "./backup/node-backups.js";
import type { BackupListing, BackupSidecar, RestoreTestResult } from "./backup/backups.js";
import type { ClientPlan } from "./cli-replication.js";
import type { NodeStatus } from "./node-api.js";
import type { PushAnswer } from "./node-config.js";

const TIMEOUT_MS = 10_000;
/** a backup or a restore test takes as long as the database is big */
const LONG_TIMEOUT_MS = 30 * 60_000;

const missing = (what: string, method: string, path: string) => `this node does not offer ${what} yet (it has no ${method} /api/v1${path}; a later Tandem version brings it)`;

export function backupRequest(words: string[]): ClientPlan | string {
  const [what = "list", ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (what === "list") return { method: "GET", path: "/backups", timeoutMs: TIMEOUT_MS, format: (j) => formatBackups(j as BackupsView), missing: missing("backups", "GET", "/backups") };
  if (what !== "now") return `expected list or now, got '${what}'`;
  return { method: "POST", path: "/backups", body: {}, timeoutMs: LONG_TIMEOUT_MS, format: (j) => formatMade(j as BackupSidecar), missing: missing("backups", "POST", "/backups") };
}

export function restoreTestRequest(words: string[]): ClientPlan | string {
  const [name, ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (name !== undefined && !/^tandem-[A-Za-z0-9_-]{1,64}-\d{8}-\d{6}(-\d{1,3})?$/.test(name)) return `'${name}' is not a backup's name (tandem backup list shows them)`;
  return {
    method: "POST",
    path: "/backups/restore-test",
    body: name === undefined ? {} : { name },
    timeoutMs: LONG_TIMEOUT_MS,
    format: (j) => formatRestoreTest(j as RestoreTestResult),
    failed: (j) => ((j as RestoreTestResult).ok ? null : "the restore test FAILED: that backup cannot be trusted"),
    missing: missing("restore tests", "POST", "/backups/restore-test"),
  };
}

const mb = (b: number | null) => (b === null ? "-" : b < 1e6 ? `${(b / 1e3).toFixed(1)} kB` : `${(b / 1e6).toFixed(1)} MB`);

export function formatMade(s: BackupSidecar): string[] {
  const d = s.manifest.database;
  return [
    `backup ${s.manifest.name} made: ${d.rows} rows up to seq ${d.lastSeq} (epoch ${d.lastEpoch}), ${Object.keys(d.tables).length} tables, ${s.manifest.files.length - 1} files, ${mb(s.archive.bytes)}`,
    `  archive ${s.archive.file}, sha256 ${s.archive.sha256}`,
    ...s.manifest.skipped.map((k) => `  not included: ${k.source} (${k.why})`),
  ];
}

export function formatRestoreTest(r: RestoreTestResult): string[] {
  if (r.ok) return [`restore test of ${r.backup} passed in ${(r.durationMs / 1000).toFixed(1)} s`, ...r.checks.map((c) => `  ok: ${c}`)];
  return [`restore test of ${r.backup ?? "the newest backup"} FAILED`, ...r.problems.map((p) => `  problem: ${p}`), ...r.checks.map((c) => `  ok: ${c}`)];
}

function listing(b: BackupListing): string {
  if (b.problem) return `  ${b.name}  UNUSABLE: ${b.problem}`;
  return `  ${b.name}  ${b.createdAt}  ${mb(b.bytes)}  ${b.rows} rows up to seq ${b.lastSeq}`;
}

export function formatBackups(v: BackupsView): string[] {
  const out = [
    `backups in ${v.dir}${v.copyTo ? `, copied to ${v.copyTo}` : ""}`,
    `  schedule ${v.schedule} on the ${v.runOn === "any" ? "each node" : v.runOn}${v.makesBackups ? " (this node makes them now)" : " (not this node now)"}; restore test ${v.restoreTestSchedule}`,
  ];
  if (v.running) out.push(`  a ${v.running} is running now`);
  if (v.last) out.push(v.last.ok ? `  last backup: ${v.last.name} at ${v.last.at} (${(v.last.durationMs / 1000).toFixed(1)} s, by ${v.last.by})` : `  last backup FAILED at ${v.last.at}: ${v.last.error}`);
  const t = v.lastRestoreTest;
  out.push(t ? `  last restore test: ${t.ok ? "passed" : "FAILED"} at ${t.at} (${t.backup ?? "no backup"})${t.ok ? "" : `: ${t.problems.join("; ")}`}` : "  no restore test yet (tandem restore-test)");
  for (const a of v.alarms) out.push(`  ALARM: ${a}`);
  out.push(v.backups.length ? `${v.backups.length} backup${v.backups.length === 1 ? "" : "s"}, newest first:` : "no backups yet (tandem backup now)");
  out.push(...v.backups.map(listing));
  if (v.copyTo) {
    out.push(`${v.copies.length} in ${v.copyTo}:`);
    out.push(...v.copies.map(listing));
  }
  return out;
}

/** `tandem config [status | push]`: both nodes' pair-wide configuration versions; the active's pushed to the standby */
export function configRequest(words: string[]): ClientPlan | string {
  const [what = "status", ...rest] = words;
  if (rest.length) return `unexpected argument '${rest[0]}'`;
  if (what === "status") return { method: "GET", path: "/status", timeoutMs: TIMEOUT_MS, format: (j) => formatConfig(j as NodeStatus), missing: missing("a status", "GET", "/status") };
  if (what !== "push") return `expected status or push, got '${what}'`;
  return {
    method: "POST",
    path: "/config/push",
    body: {},
    timeoutMs: 30_000,
    format: (j) => {
      const r = j as PushAnswer;
      return [
        `configuration ${r.version} is now in ${r.node}'s config file (its previous one kept as ${r.kept})`,
        `both nodes run ${r.running} until they are restarted: restart ${r.node}, switch over (tandem switchover --accept-config), then restart this node`,
      ];
    },
    missing: missing("a configuration push", "POST", "/config/push"),
  };
}

export function formatConfig(s: NodeStatus): string[] {
  const c = s.config;
  if (!c) return [`node ${s.nodeId} does not say its configuration version (an older Tandem)`];
  const out = [`node ${s.nodeId} runs configuration ${c.version}${c.onDisk ? `; its config file holds ${c.onDisk} (runs from its next start)` : ""}`];
  if (c.match === null) out.push(`  ${s.peer.nodeId}: not known yet (the peer has not said)`);
  else if (c.match) out.push(`  ${s.peer.nodeId} runs the same`);
  else out.push(`  ${s.peer.nodeId} runs ${c.peerVersion}: ${c.differs.join(", ")} differ`, "  automatic failback and switchover wait until both run the same (tandem switchover --accept-config moves the plant anyway)");
  return out;
}
