// S1 (one active) at the witness: the third vote never lets two nodes hold a
// valid grant at once. Scenarios are scripts, one request per line:
//
//   at TIME NODE OP EPOCH [lease MS] [silence MS] -> granted|refused [REASON] [retry MS] [holder NODE/EPOCH|none] [remaining MS] [lease MS]
//
// Only the fields written after "->" are checked. Lease defaults to 1000.
// `restart at TIME` replaces the witness with a fresh one started then.
import { describe, expect, it } from "vitest";
import { WitnessCore, type WitnessOp, type WitnessReply } from "../../redundancy/witness-core.js";
import { prng } from "../helpers/prng.js";

interface Step {
  line: string;
  now: number;
  from: string;
  op: WitnessOp;
  epoch: number;
  leaseMs: number;
  silenceMs?: number;
  expect: Partial<WitnessReply> & { noRetry?: boolean };
}

function parse(line: string): Step | { restartAt: number } {
  const t = line.trim().split(/\s+/);
  if (t[0] === "restart") return { restartAt: Number(t[2]) };
  const arrow = t.indexOf("->");
  if (t[0] !== "at" || arrow < 0) throw new Error(`bad script line: ${line}`);
  const [, at, from, op, epoch, ...opts] = t.slice(0, arrow);
  const step: Step = { line, now: Number(at), from: from!, op: op as WitnessOp, epoch: Number(epoch), leaseMs: 1000, expect: {} };
  for (let i = 0; i < opts.length; i += 2) {
    if (opts[i] === "lease") step.leaseMs = Number(opts[i + 1]);
    else if (opts[i] === "silence") step.silenceMs = Number(opts[i + 1]);
    else throw new Error(`bad option in: ${line}`);
  }
  const ex = t.slice(arrow + 1);
  const e = step.expect;
  e.granted = ex[0] === "granted";
  if (ex[0] !== "granted" && ex[0] !== "refused") throw new Error(`expected granted|refused in: ${line}`);
  let i = 1;
  if (!e.granted && ex[1] && !["retry", "holder", "remaining", "lease", "no-retry"].includes(ex[1])) e.reason = ex[i++] as WitnessReply["reason"];
  for (; i < ex.length; i++) {
    const k = ex[i];
    const v = ex[i + 1]!;
    if (k === "retry") e.retryInMs = Number(v);
    else if (k === "remaining") e.remainingMs = Number(v);
    else if (k === "lease") e.leaseMs = Number(v);
    else if (k === "holder") {
      if (v === "none") e.holder = null;
      else {
        const [h, ep] = v.split("/");
        e.holder = h!;
        e.holderEpoch = Number(ep);
      }
    } else if (k === "no-retry") {
      e.noRetry = true;
      continue;
    } else throw new Error(`bad expectation '${k}' in: ${line}`);
    i++;
  }
  return step;
}

/** Runs a script against one witness (maxLeaseMs 1000 unless given); returns the witness. */
function run(script: string, opts: { maxLeaseMs?: number; startedAt?: number; pair?: string } = {}): WitnessCore {
  const maxLeaseMs = opts.maxLeaseMs ?? 1000;
  // Started long enough ago that the quiet period is over at time 0, unless a test says otherwise.
  let w = new WitnessCore({ maxLeaseMs, startedAt: opts.startedAt ?? -maxLeaseMs });
  for (const raw of script.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const s = parse(line);
    if ("restartAt" in s) {
      w = new WitnessCore({ maxLeaseMs, startedAt: s.restartAt });
      continue;
    }
    const reply = w.handle({ pair: opts.pair ?? "line1", from: s.from, op: s.op, epoch: s.epoch, leaseMs: s.leaseMs, ...(s.silenceMs === undefined ? {} : { silenceMs: s.silenceMs }) }, s.now);
    const { noRetry, ...want } = s.expect;
    expect(reply, line).toMatchObject(want);
    expect(reply.op, line).toBe(s.op);
    if (noRetry) expect(reply.retryInMs, line).toBeUndefined();
    if (reply.granted) expect(reply.reason, line).toBeUndefined();
    else expect(reply.leaseMs, line).toBe(0);
  }
  return w;
}

describe("witness: the scenario from the brief", () => {
  it("a renews, b is told to wait, b takes over once a's lease is out, a's late renew is refused", () => {
    run(`
      at 0    a renew   1 -> granted lease 1000 holder a/1 remaining 1000
      at 500  b acquire 2 -> refused held retry 500 holder a/1 remaining 500
      at 1000 b acquire 2 -> granted lease 1000 holder b/2 remaining 1000
      at 1001 a renew   1 -> refused stale-epoch holder b/2 remaining 999
    `);
  });
});

describe("witness: renew", () => {
  it("holder with the same or a higher epoch renews; a lower epoch is stale", () => {
    run(`
      at 0   a acquire 3 -> granted holder a/3
      at 100 a renew   3 -> granted holder a/3 remaining 1000
      at 200 a renew   4 -> granted holder a/4
      at 300 a renew   3 -> refused stale-epoch holder a/4 remaining 900
    `);
  });

  it("holder may renew after its lease ran out at the witness if nobody took it", () => {
    run(`
      at 0    a acquire 1 -> granted holder a/1
      at 5000 a renew   1 -> granted holder a/1 remaining 1000
    `);
  });

  it("a fresh witness lets the first renewer establish itself (after a witness restart)", () => {
    run(`
      at 0 a renew 7 -> granted holder a/7 lease 1000
    `);
  });

  it("another valid holder: held; its lease expired: not-holder; lower epoch: stale", () => {
    run(`
      at 0    a acquire 2 -> granted holder a/2
      at 100  b renew   2 -> refused held retry 900 holder a/2
      at 100  b renew   5 -> refused held retry 900
      at 100  b renew   1 -> refused stale-epoch
      at 1000 b renew   2 -> refused not-holder holder a/2 remaining 0
      at 1000 b renew   1 -> refused stale-epoch
    `);
  });

  it("the lease is capped at maxLeaseMs, and a shorter ask is honoured", () => {
    run(`
      at 0    a renew 1 lease 9000 -> granted lease 1000 remaining 1000
      at 1000 a renew 1 lease 300  -> granted lease 300 remaining 300
      at 1299 b acquire 2          -> refused held retry 1
      at 1300 b acquire 2          -> granted holder b/2
    `);
  });

  it("a shorter renewal never shortens a promise already made (found by the random test)", () => {
    // a may count on the 1000 ms granted at 0 until 1000, whatever the later reply says.
    run(`
      at 0   a renew 1 lease 1000 -> granted lease 1000 remaining 1000
      at 100 a renew 1 lease 300  -> granted lease 300 remaining 900
      at 400 b acquire 2          -> refused held retry 600
      at 401 a acquire 2 lease 50 -> granted lease 50 holder a/2 remaining 599
      at 999 b acquire 3          -> refused held retry 1
      at 1000 b acquire 3         -> granted holder b/3
    `);
  });
});

describe("witness: acquire", () => {
  it("an empty witness grants the first acquire with a higher epoch", () => {
    run(`
      at 0 a acquire 1 -> granted lease 1000 holder a/1 remaining 1000
    `);
  });

  it("epoch must be above the record's: equal or lower is stale", () => {
    run(`
      at 0    a acquire 0 -> refused stale-epoch holder none
      at 0    a acquire 4 -> granted holder a/4
      at 2000 b acquire 4 -> refused stale-epoch holder a/4 remaining 0
      at 2000 b acquire 3 -> refused stale-epoch
      at 2000 b acquire 5 -> granted holder b/5
    `);
  });

  it("is idempotent for the holder at the same epoch (a retransmission renews)", () => {
    run(`
      at 0   a acquire 1 -> granted holder a/1
      at 600 a acquire 1 -> granted holder a/1 remaining 1000
      at 1500 b acquire 2 -> refused held retry 100
    `);
  });

  it("the holder may raise its own epoch; a lower one is stale", () => {
    run(`
      at 0   a acquire 1 -> granted holder a/1
      at 100 a acquire 2 -> granted holder a/2
      at 200 a acquire 1 -> refused stale-epoch holder a/2
    `);
  });

  it("held carries retryInMs = time left on the holder's lease", () => {
    run(`
      at 0   a acquire 1 lease 800 -> granted
      at 1   b acquire 2           -> refused held retry 799 remaining 799
      at 799 b acquire 2           -> refused held retry 1
      at 800 b acquire 2           -> granted holder b/2
    `);
  });
});

describe("witness: start-up quiet period", () => {
  it("refuses acquire and announce for maxLeaseMs after start, with the time left; renew works", () => {
    run(
      `
      at 0    b acquire  2 -> refused witness-starting retry 1000 holder none
      at 400  b announce 2 silence 0 -> refused witness-starting retry 600
      at 500  a renew    1 -> granted holder a/1
      at 999  b acquire  2 -> refused witness-starting retry 1
      at 1000 b acquire  2 -> refused held retry 500
      at 1500 b acquire  2 -> granted holder b/2
    `,
      { startedAt: 0 },
    );
  });

  it("a restart forgets the holder; the real active re-establishes itself, the standby still waits", () => {
    run(`
      at 0    a acquire 3 -> granted holder a/3
      restart at 400
      at 450  b acquire 4 -> refused witness-starting retry 950
      at 500  a renew   3 -> granted holder a/3 remaining 1000
      at 1400 b acquire 4 -> refused held retry 100
      at 1450 a renew   3 -> granted
      at 2450 b acquire 4 -> granted holder b/4
    `);
  });

  it("after a restart with no active left, a standby can take over once the quiet period is over", () => {
    run(`
      at 0    a acquire 3 -> granted holder a/3
      restart at 300       # a died with the witness; a's lease ran to 1000 at most
      at 900  b acquire 4 -> refused witness-starting retry 400
      at 1300 b acquire 4 -> granted holder b/4
    `);
  });
});

describe("witness: announce (dead-process path)", () => {
  it("is refused while the holder is still heard from, granted once it has been silent long enough", () => {
    run(`
      at 0   a acquire  1               -> granted holder a/1
      at 300 a probe    1               -> granted
      at 400 b announce 2 silence 200   -> refused holder-alive retry 100 holder a/1
      at 500 b announce 2 silence 200   -> granted lease 1000 holder b/2 remaining 1000
    `);
  });

  it("any request from the holder counts as a sign of life", () => {
    run(`
      at 0   a acquire  1             -> granted
      at 250 a renew    0             -> refused stale-epoch
      at 350 b announce 2 silence 200 -> refused holder-alive retry 100
    `);
    // a's stale renew is at 250: it was heard then, so the silence runs from 250.
  });

  it("the retry is bounded by the holder's lease running out", () => {
    run(`
      at 0   a acquire  1 lease 300    -> granted
      at 100 b announce 2 silence 5000 -> refused holder-alive retry 200
      at 300 b announce 2 silence 5000 -> granted holder b/2
    `);
  });

  it("still needs a higher epoch", () => {
    run(`
      at 0    a acquire  3             -> granted
      at 2000 b announce 3 silence 100 -> refused stale-epoch
      at 2000 b announce 2 silence 100 -> refused stale-epoch
      at 2000 b announce 4 silence 100 -> granted holder b/4
    `);
  });

  it("a silent holder with epoch too low: holder-alive is not the answer, stale is", () => {
    run(`
      at 0   a acquire  3             -> granted
      at 600 b announce 3 silence 100 -> refused stale-epoch
    `);
  });

  it("is idempotent for the new holder", () => {
    run(`
      at 0    a acquire  1             -> granted
      at 700  b announce 2 silence 500 -> granted holder b/2
      at 800  b announce 2 silence 500 -> granted holder b/2 remaining 1000
    `);
  });
});

describe("witness: release (planned switchover)", () => {
  it("the holder releases; the other node acquires at once; a late renew from the releaser is refused", () => {
    run(`
      at 0   a acquire 1 -> granted holder a/1
      at 100 a release 1 -> granted lease 0 holder none remaining 0
      at 101 a renew   1 -> refused released holder none
      at 102 b acquire 2 -> granted holder b/2
      at 103 a renew   1 -> refused stale-epoch holder b/2
      at 104 a renew   2 -> refused held retry 998
    `);
  });

  it("only the holder at its epoch may release", () => {
    run(`
      at 0   a acquire 2 -> granted
      at 100 b release 2 -> refused not-holder holder a/2
      at 100 a release 1 -> refused not-holder holder a/2
      at 100 a release 3 -> refused not-holder holder a/2
      at 200 b acquire 3 -> refused held
    `);
  });

  it("released: even a higher-epoch renew is refused, but a higher-epoch acquire is granted", () => {
    run(`
      at 0   a acquire 1 -> granted
      at 100 a release 1 -> granted
      at 200 a renew   5 -> refused released
      at 200 a acquire 1 -> refused stale-epoch
      at 200 a acquire 2 -> granted holder a/2
      at 300 a renew   2 -> granted
    `);
  });

  it("release on an empty witness is refused", () => {
    run(`
      at 0 a release 0 -> refused not-holder holder none
    `);
  });
});

describe("witness: probe, replies, records", () => {
  it("probe changes nothing but reports the holder", () => {
    const w = run(`
      at 0   a acquire 1 -> granted holder a/1
      at 300 b probe   0 -> granted lease 0 holder a/1 remaining 700
      at 300 b probe   9 -> granted lease 0 holder a/1 remaining 700
    `);
    expect(w.record("line1")).toEqual({ holder: "a", epoch: 1, expiresAt: 1000, released: false, heard: { a: 0, b: 300 } });
  });

  it("pairs are independent", () => {
    const w = new WitnessCore({ maxLeaseMs: 1000, startedAt: -1000 });
    expect(w.handle({ pair: "line1", from: "a", op: "acquire", epoch: 1, leaseMs: 1000 }, 0).granted).toBe(true);
    expect(w.handle({ pair: "line2", from: "b", op: "acquire", epoch: 1, leaseMs: 1000 }, 0).granted).toBe(true);
    expect(w.handle({ pair: "line2", from: "a", op: "acquire", epoch: 2, leaseMs: 1000 }, 1)).toMatchObject({ granted: false, reason: "held", holder: "b" });
    const snap = w.snapshot() as { pairs: Record<string, { holder: string }> };
    expect(Object.keys(snap.pairs).sort()).toEqual(["line1", "line2"]);
    expect(snap.pairs.line1!.holder).toBe("a");
  });

  it("snapshot and record are copies", () => {
    const w = new WitnessCore({ maxLeaseMs: 1000, startedAt: -1000 });
    w.handle({ pair: "p", from: "a", op: "acquire", epoch: 1, leaseMs: 1000 }, 0);
    const r = w.record("p")!;
    r.holder = "mallory";
    r.heard.a = 99;
    expect(w.record("p")).toMatchObject({ holder: "a", heard: { a: 0 } });
    expect(w.record("unknown")).toBeUndefined();
  });

  it("fractional monotonic times round remaining and retry up (never promise less than is left)", () => {
    const w = new WitnessCore({ maxLeaseMs: 1000, startedAt: -1000 });
    w.handle({ pair: "p", from: "a", op: "acquire", epoch: 1, leaseMs: 1000 }, 0.25);
    expect(w.handle({ pair: "p", from: "b", op: "acquire", epoch: 2, leaseMs: 1000 }, 500.5)).toMatchObject({ retryInMs: 500, remainingMs: 500 });
    expect(w.handle({ pair: "p", from: "b", op: "acquire", epoch: 2, leaseMs: 1000 }, 999.5)).toMatchObject({ retryInMs: 1, remainingMs: 1 });
  });

  it("refuses a bad maxLeaseMs", () => {
    expect(() => new WitnessCore({ maxLeaseMs: 0, startedAt: 0 })).toThrow(RangeError);
  });
});


describe("witness: S1 under random operations", () => {
  // Each node believes it holds a lease from a grant's time to time + granted leaseMs
  // (zero network delay: the tightest case, since a real node counts from its send
  // time). A granted release ends the releaser's belief at once (it stopped acting
  // before it sent the release). The check: when a node is granted, no other node
  // believes it still holds a lease.
  //
  // What nodes are assumed to do (DESIGN.md lease rules): a node renews only while
  // it believes it holds a lease, or outside the witness's quiet period; announce
  // is sent with silenceMs ≥ maxLeaseMs (the dead-process path shortens that only
  // with the kernel's evidence that the holder is gone, which this model lacks).
  const maxLeaseMs = 1000;
  const nodes = ["a", "b", "c"];
  const ops: WitnessOp[] = ["acquire", "renew", "release", "announce", "probe"];

  it("500 seeded runs of 400 random requests, with witness restarts: never two holders", () => {
    let totalGrants = 0;
    for (let seed = 1; seed <= 500; seed++) totalGrants += randomRun(seed);
    expect(totalGrants).toBeGreaterThan(500 * 20);
  });

  function randomRun(seed: number): number {
    const rnd = prng(seed);
    let w = new WitnessCore({ maxLeaseMs, startedAt: 0 });
    let quietUntil = maxLeaseMs;
    let now = 0;
    let topEpoch = 0;
    const belief: Record<string, number> = { a: -1, b: -1, c: -1 };
    const log: string[] = [];
    let grants = 0;
    for (let i = 0; i < 400; i++) {
      now += Math.floor(rnd() * 250);
      if (rnd() < 0.01) {
        w = new WitnessCore({ maxLeaseMs, startedAt: now });
        quietUntil = now + maxLeaseMs;
        log.push(`restart at ${now}`);
        continue;
      }
      const from = nodes[Math.floor(rnd() * nodes.length)]!;
      let op = ops[Math.floor(rnd() * ops.length)]!;
      const believes = belief[from]! > now;
      if (op === "renew" && !believes && now < quietUntil) op = "probe";
      const epoch = Math.max(0, topEpoch + Math.floor(rnd() * 4) - 2);
      const leaseMs = 1 + Math.floor(rnd() * 1500);
      const silenceMs = maxLeaseMs + Math.floor(rnd() * 500);
      const reply = w.handle({ pair: "p", from, op, epoch, leaseMs, silenceMs }, now);
      log.push(`at ${now} ${from} ${op} ${epoch} lease ${leaseMs} -> ${reply.granted ? "granted" : `refused ${reply.reason}`} holder ${reply.holder}/${reply.holderEpoch}`);
      if (!reply.granted) continue;
      if (op === "release") {
        belief[from] = now;
        continue;
      }
      if (op === "probe") continue;
      grants++;
      for (const other of nodes) {
        if (other !== from && belief[other]! > now) {
          throw new Error(`S1 broken (seed ${seed}): ${from} granted at ${now} while ${other} holds a lease until ${belief[other]}\n${log.slice(-15).join("\n")}`);
        }
      }
      belief[from] = Math.max(belief[from]!, now + reply.leaseMs);
      if (reply.leaseMs > maxLeaseMs) throw new Error(`lease ${reply.leaseMs} above maxLeaseMs (seed ${seed})`);
      topEpoch = Math.max(topEpoch, epoch);
    }
    return grants;
  }
});
