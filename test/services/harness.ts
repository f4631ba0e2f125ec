// A supervisor on real child processes, driven by a pair the test sets by
// hand (the pair itself has its own tests): its state, whether services
// placed `active` may run, the lease deadline it feeds to the launchers.
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeState } from "../../core/types.js";
import { LogManager } from "../../runtime/logging.js";
import { servicesSection } from "../../runtime/services/config-schema.js";
import { Supervisor, type PairView } from "../../runtime/services/supervisor.js";

export const SVC = fileURLToPath(new URL("./fixtures/svc.sh", import.meta.url));

export class FakePair implements PairView {
  s: NodeState = "standby";
  e = 1;
  allowed = false;
  handing = false;
  deadline: number | null = null;
  upCalls: boolean[] = [];
  peerView = { id: "b", inPool: false, state: "unknown" };
  sent: { topic: string; data: Record<string, unknown> }[] = [];
  state = () => this.s;
  epoch = () => this.e;
  activeAllowed = () => this.allowed;
  handingOver = () => this.handing;
  actDeadlineMs = () => this.deadline;
  setServicesUp = (up: boolean) => void this.upCalls.push(up);
  peer = () => this.peerView;
  sendPeer = (topic: string, data: Record<string, unknown>) => {
    this.sent.push({ topic, data });
    return true;
  };
}

export interface LogLine {
  level: string;
  msg: string;
  service?: string;
  [k: string]: unknown;
}

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), "tandem-svc-test-"));
  readonly log = join(this.dir, "events.log");
  readonly lines: LogLine[] = [];
  readonly pair = new FakePair();
  sup: Supervisor | null = null;
  private logs = new LogManager({ level: "debug", destination: { write: (s: string) => void this.lines.push(JSON.parse(s) as LogLine) } });

  /** services in config form (defaults filled by the real schema); `mode` runs svc.sh in that mode */
  start(services: Record<string, Record<string, unknown>>, nodeId = "a"): Supervisor {
    const parsed = servicesSection.parse(services);
    for (const c of Object.values(parsed)) c.env = { LOG: this.log, ...c.env };
    this.sup = new Supervisor({ services: parsed, pairId: "line1", nodeId, capacity: 1, dataDir: join(this.dir, "data"), defaultCwd: this.dir, log: this.logs.get("services"), pair: this.pair });
    this.sup.start();
    return this.sup;
  }

  /** the fixture's event lines: [ms, event, service, node, epoch] */
  events(): string[][] {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" "));
  }

  eventWords(): string[] {
    return this.events().map((e) => `${e[1]} ${e[2]}`);
  }

  async until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events: ${this.eventWords().join(", ")}; log: ${this.lines.map((l) => l.msg).slice(-15).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  view(key: string) {
    const v = this.sup!.views().find((x) => x.instance === key);
    if (!v) throw new Error(`no instance ${key}`);
    return v;
  }

  async close(): Promise<void> {
    await this.sup?.stop();
    await this.logs.flush();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** a service running the fixture in `mode` */
export function svc(mode: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { env, ...rest } = extra as { env?: Record<string, string> };
  return { command: SVC, args: [mode], placement: "both", env: env ?? {}, ...rest };
}

/** healthy once the fixture has touched $TMPDIR/ready */
export const readyCheck = { command: ["sh", "-c", 'test -f "$TMPDIR/ready"'], intervalMs: 200, timeoutMs: 150, startGraceMs: 2000, failures: 2 };
