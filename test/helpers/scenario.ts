// Failover scenarios as readable scripts with golden output, run on the
// simulated pair (the code that ships, on a simulated clock and network), in
// the manner of etcd raft's testdata/*.txt:
//
//   # a comment
//   start a b witness
//   ----
//   ok
//
//   run 2s
//   ----
//      212 ms  a  standby → active  e1  elected active with b's agreement
//   a active e1 | b standby e1
//
// Each command is followed by "----" and the output it must give; a blank
// line ends it. `run`/`tick` print every state change in the window, then
// both nodes; `expect` prints "ok" or what differs. The simulator checks S1,
// persist-before-announce, the held rule and the lease promises after every
// step, so a breach fails the scenario wherever it happens.
// TANDEM_UPDATE_SCENARIOS=1 rewrites the outputs from what the code does now.
import { PairSim, admin, operator, type LinkName, type NodeId, type SimOptions } from "./pair-sim.js";

export interface Step {
  line: number;
  /** the comment lines just above the command (kept when outputs are rewritten) */
  comment: string[];
  command: string;
  expected: string;
}

export function parseScenario(text: string): { steps: Step[]; header: string } {
  const lines = text.split("\n");
  const steps: Step[] = [];
  const header: string[] = [];
  let i = 0;
  const blank = (l: string) => l.trim() === "" || l.trim().startsWith("#");
  for (; i < lines.length && blank(lines[i]!); i++) header.push(lines[i]!);
  let comment: string[] = [];
  while (i < lines.length) {
    const l = lines[i]!.trim();
    if (l === "") {
      i++;
      continue;
    }
    if (l.startsWith("#")) {
      comment.push(lines[i++]!);
      continue;
    }
    const line = i + 1;
    const command = lines[i++]!.trim();
    if (lines[i]?.trim() !== "----") throw new Error(`line ${line}: '${command}' must be followed by a line '----'`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    steps.push({ line, comment, command, expected: out.join("\n") });
    comment = [];
  }
  return { steps, header: header.join("\n") };
}

export function formatScenario(header: string, steps: { comment: string[]; command: string; actual: string }[]): string {
  const body = steps.map((s) => [...s.comment, s.command, "----", s.actual].join("\n")).join("\n\n");
  return `${header.trimEnd()}\n\n${body}\n`;
}

const ms = (t: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(t);
  if (!m) throw new Error(`expected a duration like 600ms or 2s, got '${t}'`);
  return Math.round(Number(m[1]) * (m[2] === "s" ? 1000 : 1));
};

const nodeArg = (x: string | undefined): NodeId => {
  if (x !== "a" && x !== "b") throw new Error(`expected a node (a or b), got '${x}'`);
  return x;
};

const linkArg = (x: string | undefined): LinkName => {
  if (x !== "lan" && x !== "plant") throw new Error(`expected a link (lan or plant), got '${x}'`);
  return x;
};

export class ScenarioRunner {
  sim: PairSim | null = null;
  private shown = 0;

  private get s(): PairSim {
    if (!this.sim) throw new Error("no pair yet: start with 'start …'");
    return this.sim;
  }

  /** Runs one command and returns its output. */
  async exec(command: string): Promise<string> {
    const [verb, ...args] = command.split(/\s+/);
    switch (verb) {
      case "start":
        return this.start(args);
      case "run":
      case "tick": {
        await this.s.run(ms(args[0] ?? ""));
        return this.changes();
      }
      case "kill":
        this.s.kill(nodeArg(args[0]));
        return "ok";
      case "restart":
        this.s.restart(nodeArg(args[0]));
        return "ok";
      case "boot":
        this.s.start(nodeArg(args[0]));
        return "ok";
      case "stop":
        this.s.stopClean(nodeArg(args[0]));
        return "ok";
      case "pause":
        this.s.pause(nodeArg(args[0]), ms(args[1] ?? ""));
        return "ok";
      case "partition":
        this.s.partition();
        return "ok";
      case "heal":
        this.s.heal();
        return "ok";
      case "cut":
        return this.cut(args, false);
      case "restore":
        return this.cut(args, true);
      case "reject": // reject from a
        this.s.rejectFrom(nodeArg(args[1]));
        return "ok";
      case "witness":
        return this.witness(args);
      case "level":
        this.s.setLevel(nodeArg(args[0]), Number(args[1]));
        return "ok";
      case "plc": {
        // plc b epoch=1 stale|moving
        const id = nodeArg(args[0]);
        const epoch = Number((args[1] ?? "").replace(/^epoch=/, ""));
        this.s.setPlc(id, epoch, args[2] === "stale");
        return "ok";
      }
      case "op":
        return this.op(args);
      case "expect":
        return this.expect(args);
      default:
        throw new Error(`unknown command '${verb}'`);
    }
  }

  private start(args: string[]): string {
    const nodes = args.filter((a): a is NodeId => a === "a" || a === "b");
    const opts: SimOptions = { witness: args.includes("witness"), start: nodes, params: {} };
    for (const a of args) {
      const m = /^(\w+)=(\S+)$/.exec(a);
      if (!m) continue;
      const v = m[2]!;
      (opts.params as Record<string, unknown>)[m[1]!] = /^\d+$/.test(v) ? Number(v) : v;
    }
    this.sim = new PairSim(opts);
    this.shown = 0;
    return "ok";
  }

  private cut(args: string[], restore: boolean): string {
    const s = this.s;
    // cut lan | cut lan from a | cut tcp | cut a from witness
    if (args[0] === "tcp") {
      if (restore) s.restoreTcp();
      else s.cutTcp();
    } else if (args[1] === "from" && args[2] === "witness") s.isolateFromWitness(nodeArg(args[0]), !restore);
    else if (args[1] === "from") {
      if (restore) s.restoreLink(linkArg(args[0]));
      else s.cutLinkFrom(linkArg(args[0]), nodeArg(args[2]));
    } else if (restore) s.restoreLink(linkArg(args[0]));
    else s.cutLink(linkArg(args[0]));
    return "ok";
  }

  private witness(args: string[]): string {
    if (args[0] === "stop") this.s.stopWitness();
    else if (args[0] === "start") this.s.startWitness();
    else throw new Error(`witness stop|start, got '${args[0]}'`);
    return "ok";
  }

  private op(args: string[]): string {
    const id = nodeArg(args[0]);
    const action = args[1] as Parameters<PairSim["op"]>[1];
    const actor = action === "switchover" || action?.startsWith("maintenance") ? admin : operator;
    const h = this.s.op(id, action, actor, args[2] === "force" ? { force: true } : {});
    this.pendingOps.push(h);
    const r = h.reply;
    return r === undefined ? "pending" : r.ok ? `ok ${JSON.stringify(r.value)}` : `refused ${r.code}: ${String(r.args.at(-1))}`;
  }

  private readonly pendingOps: ReturnType<PairSim["op"]>[] = [];

  /** expect b active-held epoch 2 | expect actors b | expect actors none | expect awaiting-operator b | expect witness b epoch 2 */
  private expect(args: string[]): string {
    const s = this.s;
    const problems: string[] = [];
    if (args[0] === "actors") {
      const want = args[1] === "none" ? [] : args.slice(1);
      const got = s.actors();
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`actors: ${got.join(" ") || "none"}`);
    } else if (args[0] === "awaiting-operator") {
      const id = nodeArg(args[1]);
      if (!s.node(id).s.awaitingOperator) problems.push(`${id} is not awaiting an operator (${s.state(id)}: ${s.node(id).s.reason})`);
    } else if (args[0] === "witness") {
      const rec = s.witness?.record("line1");
      const holder = args[1];
      const epoch = args[2] === "epoch" ? Number(args[3]) : undefined;
      if (!rec || rec.holder !== holder || (epoch !== undefined && rec.epoch !== epoch)) problems.push(`witness holds ${rec ? `${rec.holder} epoch ${rec.epoch}` : "nothing"}`);
    } else {
      const id = nodeArg(args[0]);
      const state = args[1];
      if (s.state(id) !== state) problems.push(`${id} is ${s.state(id)}`);
      const i = args.indexOf("epoch");
      if (i >= 0 && s.epoch(id) !== Number(args[i + 1])) problems.push(`${id} has epoch ${s.epoch(id)}`);
    }
    return problems.length ? `FAILED: ${problems.join("; ")}` : "ok";
  }

  /** state changes since the last output, then where both nodes stand */
  private changes(): string {
    const s = this.s;
    const t = s.trace.slice(this.shown);
    this.shown = s.trace.length;
    const lines = t.map((e) => `${String(e.t).padStart(6)} ms  ${e.node}  ${e.from} → ${e.to}  e${e.epoch}  ${e.reason}`);
    const one = (id: NodeId) => {
      const st = s.state(id);
      if (st === "dead") return `${id} dead`;
      const n = s.node(id).s;
      return `${id} ${st} e${n.epoch}${s.canAct(id) ? " acting" : ""}${n.awaitingOperator ? " awaiting-operator" : ""}`;
    };
    lines.push(`${one("a")} | ${one("b")}`);
    return lines.join("\n");
  }
}
