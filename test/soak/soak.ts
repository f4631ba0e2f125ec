// The fault-injection soak (issue 13): `npm run soak [-- --faults N
// --minutes M --seed S --out FILE]` runs up to N randomized faults (default
// 1000) within M minutes (default 75) against a pair under load on real
// network stacks (run.ts, site.ts, faults.ts), has the independent checker
// judge the outside evidence, and writes docs/reliability.md (or --out).
// Exits 1 when the checker found a violation or the run ended early. Not in
// `npm test` (test/integration/faults-netns.test.ts runs a short fixed
// selection there). Needs root (namespaces, iptables, a tmpfs, cgroups).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../helpers/cluster.js";
import { log } from "../bench/stats.js";
import { reliabilityReport } from "./report.js";
import { runFaults } from "./run.js";

const { values } = parseArgs({
  options: { faults: { type: "string", default: "1000" }, minutes: { type: "string", default: "75" }, seed: { type: "string" }, out: { type: "string" } },
});
const faults = Number(values.faults);
const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (![faults, minutes, seed].every((n) => Number.isInteger(n) && n >= 0) || faults < 1 || minutes <= 0) {
  process.stderr.write("usage: npm run soak [-- --faults N (1000) --minutes M (75) --seed S --out FILE (docs/reliability.md)]\n");
  process.exit(2);
}
const out = values.out ?? join(ROOT, "docs", "reliability.md");

log(`soak: up to ${faults} faults in ${minutes} min, seed ${seed}`);
const r = await runFaults({ seed, faults, minutes, log });
const cmd = `npm run soak -- --faults ${r.records.length} --minutes ${Math.ceil(minutes)} --seed ${seed}`;
writeFileSync(out, reliabilityReport(r, cmd));
const bad = r.verdict.violations.length + r.lost;
log(`soak: ${r.records.length} faults, ${r.records.filter((x) => x.moved).length} role moves, ${bad} violations${r.stoppedBy ? `; ended early: ${r.stoppedBy}` : ""}; report in ${out}`);
process.exit(bad > 0 || r.stoppedBy ? 1 : 0);
