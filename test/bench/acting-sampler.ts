// S1 during a benchmark: were two nodes ever acting at the same moment?
//
// Asking both nodes at once is not enough: each answer reflects its node's own
// moment, and under load the two moments can lie far apart, so a pair that
// hands over cleanly in 2 ms can still show "active, active" (one answer from
// just before the old active stepped down, one from just after the new one
// took over). This sampler asks in sequence X, Y, X (/status: state and
// epoch, with a viewer session) and counts an overlap only when X answered acting in the
// same epoch before and after Y answered acting: X acted throughout the span
// in which Y's answer was made (a node that stops acting can only act again
// in a new epoch). It alternates which node is X. A round every 20 ms.
import { acting, login, stateOf } from "./serving.js";

export interface Overlap {
  t: string;
  outer: string;
  inner: string;
  outerEpoch?: number;
  innerState?: string;
  innerEpoch?: number;
}

export class ActingSampler {
  rounds = 0;
  readonly overlaps: Overlap[] = [];
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly urls: Record<string, string>) {}

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
    const health = (id: string) => stateOf(this.urls[id]!, cookies[id]!);
    while (this.running) {
      const [x, y] = this.rounds % 2 === 0 ? [ids[0]!, ids[1]!] : [ids[1]!, ids[0]!];
      const x1 = await health(x);
      const y1 = await health(y);
      const x2 = await health(x);
      this.rounds++;
      if (x1 && x2 && y1 && acting(x1.state) && acting(x2.state) && x1.epoch === x2.epoch && acting(y1.state)) {
        this.overlaps.push({ t: new Date().toISOString(), outer: x, inner: y, outerEpoch: x1.epoch, innerState: y1.state, innerEpoch: y1.epoch });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
