// Host monitoring, the I/O side: samples the disks of the watched paths
// (statfs), memory and swap and CPU (systeminformation) every everyMs,
// assesses them (assess.ts) and tells the node of each change; its health
// lowers the service level while the data dir's disk is in alarm (a node
// that cannot write is the worse choice for active).
import { statfs } from "node:fs/promises";
import si from "systeminformation";
import type { Logger } from "../../core/logger.js";
import { assess, type Assessment, type HostSample, type Item, type Level } from "./assess.js";
import type { MonitoringConfig } from "./config-schema.js";

/** the service level given up while the data dir's disk is in alarm */
export const DATA_DISK_PENALTY = 50;

export interface HostMonitorOptions {
  config: MonitoringConfig;
  /** the data dir first: its disk decides the health */
  paths: string[];
  log: Logger;
  /** a level changed: the node records it as an event or alarm */
  onChange(item: Item, from: Level): void;
}

export class HostMonitor {
  private timer: NodeJS.Timeout | null = null;
  private last: Assessment | null = null;
  private sampling = false;
  private failedOnce = false;

  constructor(private readonly o: HostMonitorOptions) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.config.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  items(): Item[] {
    return this.last?.items ?? [];
  }

  health(): { penalty: number; reasons: string[] } {
    const data = this.last?.items.find((i) => i.name === `disk:${this.o.paths[0]}`);
    return data?.level === "alarm" ? { penalty: DATA_DISK_PENALTY, reasons: [`the data dir's disk is nearly full: ${data.text}`] } : { penalty: 0, reasons: [] };
  }

  async sample(): Promise<HostSample> {
    const disks = await Promise.all(
      this.o.paths.map(async (path) => {
        const s = await statfs(path);
        const used = (s.blocks - s.bfree) * s.bsize;
        return { path, usedBytes: used, totalBytes: used + s.bavail * s.bsize };
      }),
    );
    const [mem, load] = await Promise.all([si.mem(), si.currentLoad()]);
    return { at: Date.now(), disks, memory: { usedBytes: mem.total - mem.available, totalBytes: mem.total }, swapUsedBytes: mem.swapused, cpuPercent: load.currentLoad };
  }

  /** one round: sample, assess, tell; a round still running is not doubled */
  async tick(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const a = assess(await this.sample(), this.o.config, this.last);
      this.last = a;
      this.failedOnce = false;
      for (const c of a.changes) this.o.onChange(c.item, c.from);
    } catch (err) {
      if (!this.failedOnce) this.o.log.warn(`monitoring: the host could not be sampled: ${(err as Error).message} (retried every ${this.o.config.everyMs / 1000} s)`);
      this.failedOnce = true;
    } finally {
      this.sampling = false;
    }
  }
}
