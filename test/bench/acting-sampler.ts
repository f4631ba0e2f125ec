// S1 during a benchmark: were two nodes ever acting at the same moment?
//
// Asking both nodes at once is not enough: each answer reflects its node's own
// moment, and under load the two moments can lie far apart, so a pair that
// hands over cleanly in 2 ms can still show "active, active" (one answer from
// just before the old active stepped down, one from just after the new one
// took over). This sampler asks in sequence X, Y, X (/status: state and
// epoch, with a viewer session), alternating which node is X, a round every
// 20 ms, and counts only the overlaps its answers prove
// (test/helpers/acting-overlaps.ts: e.g. X answered acting in the same epoch
// before and after Y answered acting).
import { type Answer, type Overlap, provenOverlaps } from "../helpers/acting-overlaps.js";
import { login, stateOf } from "./serving.js";

export type { Overlap };

export class ActingSampler {
  rounds = 0;
  private readonly answers: Answer[] = [];
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly urls: Record<string, string>) {}

  /** what the answers so far prove (test/helpers/acting-overlaps.ts) */
  get overlaps(): Overlap[] {
    return provenOverlaps(this.answers);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const ids = Object.keys(this.urls);
    if (ids.length !== 2) throw new Error("ActingSampler: exactly two nodes");
    const cookies: Record<string, string> = {};
    for (const id of ids) cookies[id] = await login(this.urls[id]!);
    // each question is its own round: asked once the one before it answered
    let asked = 0;
    const ask = async (node: string) => {
      const h = await stateOf(this.urls[node]!, cookies[node]!);
      this.answers.push({ round: asked++, node, state: h?.state, epoch: h?.epoch });
    };
    while (this.running) {
      const [x, y] = this.rounds % 2 === 0 ? [ids[0]!, ids[1]!] : [ids[1]!, ids[0]!];
      await ask(x);
      await ask(y);
      await ask(x);
      this.rounds++;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
