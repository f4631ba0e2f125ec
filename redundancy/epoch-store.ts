// The epoch and the incarnation, persisted crash-safely: write a temp file,
// fsync it, rename it over the old one, fsync the directory.
//
// The incarnation makes every message this process sends unique (the
// receivers' replay guards drop an older incarnation's messages). It must
// never repeat, not even after the data directory was lost: it is the wall
// clock in milliseconds at start, or the stored one plus one if that is
// higher (a clock set back). A node whose data dir was wiped therefore
// rejoins at once; only a wiped data dir together with a clock set back
// behind the previous start is refused by the peer until the peer restarts.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from "node:fs";
import { join } from "node:path";
import { TandemError } from "../core/errors.js";

export interface EpochRecord {
  epoch: number;
  /** highest epoch this node offered the witness for a takeover (it never claims below it); absent in older files */
  proposed?: number;
  /** raised at every process start: makes every message sequence unique (replay protection) */
  incarnation: number;
  /** node and pair the file belongs to: a data dir copied to the wrong node is refused */
  nodeId: string;
  pairId: string;
  /**
   * true after a clean stop of the node that last drove the process context
   * (or before anything ever ran); false while running, so a crash leaves it
   * false. A node that is not the clean owner holds the context when it
   * becomes active again (DESIGN.md, the held rule).
   */
  cleanOwner?: boolean;
}

const FILE = "epoch.json";

export class EpochStore {
  private record: EpochRecord;
  private readonly file: string;
  /** did the previous run stop cleanly as the owner of the process context (or is this the first run)? */
  readonly cleanOwner: boolean;

  private constructor(
    private readonly dir: string,
    record: EpochRecord,
  ) {
    this.file = join(dir, FILE);
    this.record = record;
    this.cleanOwner = record.cleanOwner !== false;
  }

  /** Opens (or creates) the store and takes a new incarnation for this start. */
  static open(dir: string, pairId: string, nodeId: string, wallClock: () => number = Date.now): EpochStore {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, FILE);
    let record: EpochRecord = { epoch: 0, incarnation: 0, nodeId, pairId };
    if (existsSync(file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new TandemError("TANDEM_ERR_EPOCH_STORE", [file, `unreadable (${(err as Error).message}); restore it from a backup or, if this node's data is lost, remove it so the node rejoins as standby with epoch 0`]);
      }
      const r = parsed as Partial<EpochRecord>;
      if (!Number.isSafeInteger(r.epoch) || (r.epoch as number) < 0 || !Number.isSafeInteger(r.incarnation) || (r.incarnation as number) < 0) {
        throw new TandemError("TANDEM_ERR_EPOCH_STORE", [file, "epoch and incarnation must be non-negative integers"]);
      }
      if (r.proposed !== undefined && (!Number.isSafeInteger(r.proposed) || r.proposed < 0)) {
        throw new TandemError("TANDEM_ERR_EPOCH_STORE", [file, "proposed must be a non-negative integer"]);
      }
      if (r.nodeId !== nodeId || r.pairId !== pairId) {
        throw new TandemError("TANDEM_ERR_EPOCH_STORE", [file, `belongs to node '${r.nodeId}' of pair '${r.pairId}', not '${nodeId}' of '${pairId}' (wrong data dir?)`]);
      }
      record = r as EpochRecord;
    }
    const store = new EpochStore(dir, record);
    const incarnation = Math.max(record.incarnation + 1, Math.floor(wallClock()));
    store.write({ ...record, incarnation, cleanOwner: false });
    return store;
  }

  get epoch(): number {
    return this.record.epoch;
  }

  get incarnation(): number {
    return this.record.incarnation;
  }

  /** Highest epoch offered the witness (at least the epoch). */
  get proposed(): number {
    return Math.max(this.record.epoch, this.record.proposed ?? 0);
  }

  /** Persists a higher epoch (and proposal) before anyone acts on it or hears of it. Never lowers either. */
  persist(epoch: number, proposed = epoch): void {
    for (const [what, n] of [["epoch", epoch], ["proposed epoch", proposed]] as const) {
      if (!Number.isSafeInteger(n) || n < 0) throw new TandemError("TANDEM_ERR_EPOCH_STORE", [this.file, `refusing to store ${what} ${n}`]);
    }
    const nextProposed = Math.max(this.proposed, proposed, epoch);
    if (epoch <= this.record.epoch && nextProposed === this.proposed) return;
    this.write({ ...this.record, epoch: Math.max(epoch, this.record.epoch), proposed: nextProposed });
  }

  /** A clean stop: `owner` when this node was the last to drive the process context. */
  markCleanStop(owner: boolean): void {
    this.write({ ...this.record, cleanOwner: owner });
  }

  private write(next: EpochRecord): void {
    const tmp = `${this.file}.tmp`;
    try {
      const fd = openSync(tmp, "w", 0o600);
      try {
        writeSync(fd, JSON.stringify(next) + "\n");
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      const dfd = openSync(this.dir, "r");
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch (err) {
      throw new TandemError("TANDEM_ERR_EPOCH_STORE", [this.file, `cannot write: ${(err as Error).message}`]);
    }
    this.record = next;
  }
}
