// Two replicators over real SQLite files, joined by an in-process link that
// carries every message as the peer connection would: encoded, through JSON,
// parsed again, delivered on a later turn, in order. The link can be cut,
// held (messages queue) and released, to place faults exactly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nullLogger } from "../../core/logger.js";
import { systemClock } from "../../redundancy/net.js";
import { encode, type ReplMessage } from "../../redundancy/replication/protocol.js";
import { Replicator } from "../../redundancy/replication/replicator.js";
import { FileReceivedLog } from "../../redundancy/replication/received-log.js";
import { DEFAULT_REPLICATION, type ReplicationSettings } from "../../redundancy/replication/settings.js";
import type { Storage } from "../../redundancy/storage.js";
import { SqliteStorage } from "../../runtime/storage/sqlite.js";

export interface TestNode {
  id: string;
  storage: Storage;
  /** its received-rows log, as a node has one (a file in the pair's temp dir) */
  received: FileReceivedLog;
  repl: Replicator;
  epoch: number;
  canWrite: boolean;
  /** messages this node sent, by type (for assertions) */
  sent: Record<string, number>;
}

export class TestPair {
  readonly dir = mkdtempSync(join(tmpdir(), "tandem-repl-"));
  readonly a: TestNode;
  readonly b: TestNode;
  up = true;
  /** while held, messages queue instead of arriving */
  private held: { to: TestNode; data: Record<string, unknown> }[] | null = null;
  /** drop messages of these types (from either side) */
  dropTypes = new Set<string>();

  constructor(settings: Partial<ReplicationSettings> = {}, makeStorage?: (id: string, dir: string) => Storage, schemas: { a: number; b: number } = { a: 1, b: 1 }) {
    const s = { ...DEFAULT_REPLICATION, ackTimeoutMs: 400, ...settings };
    const mk = (id: string): TestNode => {
      const storage = makeStorage ? makeStorage(id, this.dir) : new SqliteStorage({ file: join(this.dir, `${id}.db`) });
      const received = new FileReceivedLog(join(this.dir, `${id}.received`), s.syncAck !== "written", 1 << 20);
      const node = { id, storage, received, epoch: 0, canWrite: true, sent: {} } as TestNode;
      node.repl = new Replicator(
        {
          nodeId: id,
          storage,
          settings: s,
          clock: systemClock,
          log: nullLogger,
          send: (msg) => this.send(node, msg),
          canWrite: () => node.canWrite,
          epoch: () => node.epoch,
          received,
        },
        schemas[id as "a" | "b"],
      );
      return node;
    };
    this.a = mk("a");
    this.b = mk("b");
  }

  other(n: TestNode): TestNode {
    return n === this.a ? this.b : this.a;
  }

  private send(from: TestNode, msg: ReplMessage): boolean {
    if (!this.up) return false;
    from.sent[msg.t] = (from.sent[msg.t] ?? 0) + 1;
    if (this.dropTypes.has(msg.t)) return true;
    const data = JSON.parse(JSON.stringify(encode(msg))) as Record<string, unknown>;
    const to = this.other(from);
    if (this.held) this.held.push({ to, data });
    else setImmediate(() => this.up && to.repl.onMessage(data));
    return true;
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const q = this.held ?? [];
    this.held = null;
    for (const m of q) setImmediate(() => this.up && m.to.repl.onMessage(m.data));
  }

  async open(): Promise<void> {
    await this.a.storage.open();
    await this.b.storage.open();
    await this.a.repl.recover();
    await this.b.repl.recover();
  }

  /** `leader` becomes active in `epoch`, the other follows */
  async lead(leader: TestNode, epoch: number): Promise<void> {
    leader.epoch = epoch;
    this.other(leader).epoch = Math.max(this.other(leader).epoch, epoch);
    await this.other(leader).repl.setRole(false, epoch, "test");
    await leader.repl.setRole(true, epoch, "test");
  }

  cut(): void {
    this.up = false;
    this.held = null;
    this.a.repl.onConnection(false);
    this.b.repl.onConnection(false);
  }

  heal(): void {
    this.up = true;
    this.a.repl.onConnection(true);
    this.b.repl.onConnection(true);
  }

  async close(): Promise<void> {
    await this.a.repl.stop();
    await this.b.repl.stop();
    await this.a.storage.close();
    await this.b.storage.close();
    this.a.received.close();
    this.b.received.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const rec = (table: string, body: unknown) => ({ table, kind: "ins" as const, key: null, body: JSON.stringify(body) });
