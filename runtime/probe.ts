// `tandem status --probe --config FILE`: from this machine, connect to every
// device of the config and read every tag once, then say which tags the PLC
// refused (an exception, a bad status, a value that does not decode) and
// which devices could not be reached. Read-only: no write can leave (a closed
// write gate) and the watchdog does not run. It opens one more connection to
// each device while it runs: mind a PLC's connection limit (maxConnections).
import { nullLogger } from "../core/logger.js";
import type { DriversConfig } from "../drivers/config-schema.js";
import { closedGate } from "../drivers/driver-api.js";
import { DriverManager, type TagSnapshot } from "../drivers/manager.js";

export interface ProbeDevice {
  device: string;
  driver: string;
  connected: boolean;
  path: string | null;
  lastError: string | null;
  tags: number;
  /** tags read with good quality */
  good: number;
  /** tags that did not read good: name, quality and reason */
  refused: { name: string; quality: string; reason: string }[];
}

/** Connects, reads every tag once (or until timeoutMs), disconnects. */
export async function probeDevices(drivers: DriversConfig, dataDir: string, timeoutMs: number): Promise<ProbeDevice[]> {
  const manager = new DriverManager({ drivers, dataDir, logs: { get: () => nullLogger }, gate: closedGate });
  // acting: every device reads (read-only: the gate is closed and there is no watchdog)
  manager.setRole(true, 0);
  const settled = (t: TagSnapshot) => t.reason !== "no_data" && t.reason !== "not_reading";
  try {
    await manager.start();
    const until = Date.now() + timeoutMs;
    // a device that cannot be reached settles as soon as its first connect round failed
    while (Date.now() < until) {
      const tags = manager.tags();
      const unreachable = new Set(manager.deviceStatus().filter((d) => d.attempted && !d.connected).map((d) => d.device));
      if (tags.every((t) => settled(t) || unreachable.has(t.device ?? ""))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tags = manager.tags();
    return manager.deviceStatus().map((d) => {
      const mine = tags.filter((t) => t.device === d.device);
      return {
        device: d.device,
        driver: d.driver,
        connected: d.connected,
        path: d.path,
        lastError: d.lastError,
        tags: mine.length,
        good: mine.filter((t) => t.quality === "good").length,
        refused: mine.filter((t) => t.quality !== "good").map((t) => ({ name: t.name, quality: t.quality, reason: t.reason ?? "" })),
      };
    });
  } finally {
    await manager.stop();
  }
}
