// S1 as the integration tests' sampler judges it (test/helpers/acting-overlaps.ts):
// a clean handover answered "active, active" within one round is not an
// overlap; a real one that lasts a few rounds always is.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Answer, provenOverlaps } from "../helpers/acting-overlaps.js";

const A = (round: number, node: string, state: string | undefined, epoch?: number): Answer => ({ round, node, state, epoch });

describe("S1: overlaps the sampler's answers prove", () => {
  it("a handover answered active by both nodes in one round proves nothing (the old one answered first)", () => {
    const answers = [A(0, "a", "active", 1), A(0, "b", "standby", 1), A(1, "a", "active", 1), A(1, "b", "active", 2), A(2, "a", "standby", 2), A(2, "b", "active", 2)];
    expect(provenOverlaps(answers)).toEqual([]);
  });

  it("a node that answers acting in the same epoch before and after the other answered acting acted throughout", () => {
    const answers = [A(0, "a", "active", 1), A(0, "b", "standby", 1), A(1, "a", "active", 1), A(1, "b", "active-held", 2), A(2, "a", "active", 1), A(2, "b", "active-held", 2)];
    const found = provenOverlaps(answers);
    expect(found.map((o) => o.why)).toContain("acted throughout");
    expect(found.find((o) => o.why === "acted throughout")!.answers).toEqual([A(0, "a", "active", 1), A(1, "b", "active-held", 2), A(2, "a", "active", 1)]);
  });

  it("an older epoch answering acting in a round after a newer one acted is an overlap, even without a sample before", () => {
    const answers = [A(0, "b", "active", 2), A(0, "a", "standby", 1), A(1, "b", "standby", 2), A(1, "a", "active", 1)];
    expect(provenOverlaps(answers)).toEqual([{ why: "older epoch acting after a newer one", answers: [A(0, "b", "active", 2), A(1, "a", "active", 1)] }]);
  });

  it("two nodes acting in one epoch in one round is an overlap", () => {
    expect(provenOverlaps([A(4, "a", "active", 3), A(4, "b", "active", 3)])).toEqual([{ why: "one epoch, two nodes", answers: [A(4, "a", "active", 3), A(4, "b", "active", 3)] }]);
  });

  it("nodes that did not answer, and states that do not act, count for nothing", () => {
    expect(provenOverlaps([A(0, "a", undefined), A(0, "b", "active", 2), A(1, "a", "isolated", 1), A(1, "b", "active", 2), A(2, "a", "active", undefined)])).toEqual([]);
  });

  // A timeline of terms on two nodes, sampled as the cluster helper samples
  // it: a round asks both nodes at once; each answer reflects its node's
  // state at its own moment within the round, and the next round starts
  // after the slower answer came back.
  interface Term {
    node: "a" | "b";
    epoch: number;
    from: number;
    to: number;
  }
  const stateAt = (terms: Term[], node: string, t: number) => terms.find((x) => x.node === node && t >= x.from && t < x.to);
  function sample(terms: Term[], delays: [number, number][], gap: number): Answer[] {
    const out: Answer[] = [];
    let t = 0;
    delays.forEach(([da, db], round) => {
      for (const [node, d] of [["a", da], ["b", db]] as const) {
        const term = stateAt(terms, node, t + d);
        out.push(term ? A(round, node, "active", term.epoch) : A(round, node, "standby", 0));
      }
      t += Math.max(da, db) + gap;
    });
    return out;
  }
  const maxDelay = 40;
  const gap = 20;
  const rounds = 120;
  const delays = fc.array(fc.tuple(fc.integer({ min: 0, max: maxDelay }), fc.integer({ min: 0, max: maxDelay })), { minLength: rounds, maxLength: rounds });
  // terms one after the other, alternating nodes, epochs rising, with a gap (>= 0) or an overlap between them
  const timeline = (overlap: fc.Arbitrary<number>) =>
    fc.array(fc.tuple(fc.integer({ min: 600, max: 1500 }), overlap), { minLength: 1, maxLength: 6 }).map((spans) => {
      const terms: Term[] = [];
      let t = 0;
      spans.forEach(([len, between], i) => {
        const from = i === 0 ? 0 : terms[i - 1]!.to - between;
        terms.push({ node: i % 2 === 0 ? "a" : "b", epoch: i + 1, from, to: from + len });
        t = from + len;
      });
      terms[terms.length - 1]!.to = Math.max(t, 1e9);
      return terms;
    });

  it("property: a pair whose terms never overlap is never flagged, however its answers fall within a round", () => {
    fc.assert(
      fc.property(timeline(fc.integer({ min: -30, max: 0 })), delays, (terms, d) => {
        expect(provenOverlaps(sample(terms, d, gap))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("property: two terms that overlap for three rounds or more are always flagged", () => {
    const longest = maxDelay + gap;
    fc.assert(
      fc.property(timeline(fc.integer({ min: 3 * longest, max: 250 })).filter((t) => t.length >= 2), delays, (terms, d) => {
        // the overlap has to lie within the rounds sampled
        fc.pre(terms[1]!.from + 3 * longest < rounds * gap);
        expect(provenOverlaps(sample(terms, d, gap)).length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
