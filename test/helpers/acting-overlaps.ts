// S1 from outside: which answers of two nodes prove that both acted at once?
//
// Each answer to /status reflects its node's own moment somewhere between the
// question and the answer. Two answers asked at the same time can therefore
// say "active, active" for a pair that handed over cleanly in between: the
// old active answered just before it stepped down, the new one just after it
// took over. Such a pair of answers proves nothing, and a check that counts
// it fails a correct pair now and then (it did, in CI, 2026-12-01).
//
// What does prove an overlap, given that a node acts in one epoch for one
// unbroken span (it can only act again after taking a new epoch):
//   - node X answers acting in epoch e in round i and again in round j, and
//     the other node answers acting in a round k between them (i < k < j):
//     X acted throughout the span in which that answer was made;
//   - a node answers acting in an older epoch in a round after the one in
//     which the other node answered acting in a newer epoch: the old term
//     began before the new one, and it was still going on after it had begun;
//   - both answer acting in the same epoch in the same round: one epoch is
//     one term, held by one node.
// A round's answers are all asked after the previous round's answers came
// back. An overlap shorter than about two rounds can go unseen: this is a
// coarse check; the plant-side witnesses (test/soak) are the fine one.

export const acting = (state: string | undefined): boolean => state === "active" || state === "active-held";

export interface Answer {
  /** the round it was asked in; the rounds are asked one after the other */
  round: number;
  node: string;
  state?: string;
  epoch?: number;
}

export interface Overlap {
  /** the rule that proves it */
  why: "acted throughout" | "older epoch acting after a newer one" | "one epoch, two nodes";
  /** the answers that prove it, in round order */
  answers: Answer[];
}

/** Every overlap the answers prove, at most one per rule and acting span (node and epoch). */
export function provenOverlaps(answers: readonly Answer[]): Overlap[] {
  const act = answers.filter((a) => acting(a.state) && a.epoch !== undefined).sort((x, y) => x.round - y.round);
  const out: Overlap[] = [];
  // per node and epoch: the first and last round it answered acting
  const spans = new Map<string, { node: string; first: Answer; last: Answer }>();
  const key = (a: Answer) => `${a.node}\u0000${a.epoch}`;
  for (const a of act) {
    const s = spans.get(key(a));
    if (!s) spans.set(key(a), { node: a.node, first: a, last: a });
    else s.last = a;
  }
  for (const s of spans.values()) {
    const inner = act.find((a) => a.node !== s.node && a.round > s.first.round && a.round < s.last.round);
    if (inner) out.push({ why: "acted throughout", answers: [s.first, inner, s.last] });
  }
  // the newest acting answer of each node in the rounds before this one
  const newest = new Map<string, Answer>();
  const reported = new Set<string>();
  for (let i = 0; i < act.length; ) {
    const round = act[i]!.round;
    const here: Answer[] = [];
    for (; i < act.length && act[i]!.round === round; i++) here.push(act[i]!);
    for (const a of here) {
      for (const [node, n] of newest) {
        if (node === a.node || n.epoch! <= a.epoch! || reported.has(key(a))) continue;
        reported.add(key(a));
        out.push({ why: "older epoch acting after a newer one", answers: [n, a] });
      }
      const twin = here.find((b) => b.node > a.node && b.epoch === a.epoch);
      if (twin && !reported.has(`${key(a)}\u0000same`)) {
        reported.add(`${key(a)}\u0000same`);
        out.push({ why: "one epoch, two nodes", answers: [a, twin] });
      }
    }
    for (const a of here) if ((newest.get(a.node)?.epoch ?? -Infinity) < a.epoch!) newest.set(a.node, a);
  }
  return out;
}
