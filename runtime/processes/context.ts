// The process context: each process module's replicated state (step,
// counters, setpoints, timer deadlines), kept in the `_context` table as one
// keyed row per module and key ("batch/step"). Every change is a replicated
// write with its own sequence number, acknowledged as the replication mode
// says (sync: on both databases) before the module goes on.
import type { Row, RowWrite, Storage } from "../../redundancy/storage.js";

export const CONTEXT_TABLE = "_context";

export interface ContextEntry {
  value: unknown;
  seq: number;
  epoch: number;
  at: number;
}

/** one module's context as loaded or last written */
export class ModuleContext {
  readonly entries = new Map<string, ContextEntry>();

  constructor(readonly module: string) {}

  get(key: string): unknown {
    return this.entries.get(key)?.value;
  }

  /** the latest write: its sequence number, epoch and time */
  latest(): ContextEntry | null {
    let best: ContextEntry | null = null;
    for (const e of this.entries.values()) if (!best || e.seq > best.seq) best = e;
    return best;
  }

  content(): Record<string, unknown> {
    return Object.fromEntries([...this.entries].filter(([k]) => !k.startsWith("timer:")).map(([k, e]) => [k, e.value]));
  }

  timers(): Record<string, number> {
    return Object.fromEntries([...this.entries].filter(([k]) => k.startsWith("timer:")).map(([k, e]) => [k.slice(6), (e.value as { due: number }).due]));
  }
}

export const contextKey = (module: string, key: string) => `${module}/${key}`;

/** every module's context from the store */
export async function loadContexts(storage: Storage): Promise<Map<string, ModuleContext>> {
  const out = new Map<string, ModuleContext>();
  for (let after = 0; ; ) {
    const rows = await storage.read(CONTEXT_TABLE, { afterSeq: after, limit: 1000 });
    for (const r of rows) addRow(out, r);
    if (rows.length < 1000) return out;
    after = rows[rows.length - 1].seq;
  }
}

function addRow(out: Map<string, ModuleContext>, r: Row): void {
  const slash = r.key?.indexOf("/") ?? -1;
  if (!r.key || slash < 1 || r.body === null) return;
  const module = r.key.slice(0, slash);
  let m = out.get(module);
  if (!m) out.set(module, (m = new ModuleContext(module)));
  m.entries.set(r.key.slice(slash + 1), { value: JSON.parse(r.body) as unknown, seq: r.seq, epoch: r.epoch, at: r.at });
}

export function putWrite(module: string, key: string, value: unknown): RowWrite {
  const body = JSON.stringify(value ?? null);
  return { table: CONTEXT_TABLE, kind: "put", key: contextKey(module, key), body };
}

export function delWrite(module: string, key: string): RowWrite {
  return { table: CONTEXT_TABLE, kind: "del", key: contextKey(module, key), body: null };
}
