// Host monitoring's decisions: thresholds for warning and alarm, a margin
// before a level is left (no flapping at the edge), CPU counted only once it
// has held, and each change reported once.
import { describe, expect, it } from "vitest";
import { assess, type Assessment, type HostSample } from "../../runtime/monitoring/assess.js";
import { monitoringSection } from "../../runtime/monitoring/config-schema.js";

const GiB = 2 ** 30;
const cfg = monitoringSection.parse({ cpu: { forSeconds: 30 } });

function sample(at: number, o: { disk?: number; mem?: number; swapMB?: number; cpu?: number } = {}): HostSample {
  return {
    at,
    disks: [{ path: "/var/lib/tandem", usedBytes: ((o.disk ?? 50) / 100) * 100 * GiB, totalBytes: 100 * GiB }],
    memory: { usedBytes: ((o.mem ?? 40) / 100) * 16 * GiB, totalBytes: 16 * GiB },
    swapUsedBytes: (o.swapMB ?? 0) * 2 ** 20,
    cpuPercent: o.cpu ?? 10,
  };
}

const level = (a: Assessment, name: string) => a.items.find((i) => i.name === name)?.level;

describe("host monitoring: levels", () => {
  it("defaults: disk 85/95 %, memory 90/97 %, any swap a warning, 512 MB an alarm", () => {
    expect(cfg).toMatchObject({ everyMs: 10_000, disk: { warnPercent: 85, alarmPercent: 95, paths: [] }, memory: { warnPercent: 90, alarmPercent: 97 }, swap: { warnMB: 1, alarmMB: 512 } });
    const a = assess(sample(0, { disk: 96, mem: 91, swapMB: 4 }), cfg, null);
    expect(level(a, "disk:/var/lib/tandem")).toBe("alarm");
    expect(level(a, "memory")).toBe("warn");
    expect(level(a, "swap")).toBe("warn");
    expect(a.items.find((i) => i.name === "disk:/var/lib/tandem")?.text).toBe("96.0% of the disk holding /var/lib/tandem used, 4.0 GiB free");
    expect(a.changes.map((c) => `${c.item.name} ${c.from}→${c.item.level}`)).toEqual(["disk:/var/lib/tandem ok→alarm", "memory ok→warn", "swap ok→warn"]);
  });

  it("leaves a level only a margin below its threshold, and reports each change once", () => {
    let a = assess(sample(0, { disk: 86 }), cfg, null);
    expect(level(a, "disk:/var/lib/tandem")).toBe("warn");
    a = assess(sample(1, { disk: 84 }), cfg, a);
    expect(level(a, "disk:/var/lib/tandem")).toBe("warn");
    expect(a.changes).toEqual([]);
    a = assess(sample(2, { disk: 82.9 }), cfg, a);
    expect(level(a, "disk:/var/lib/tandem")).toBe("ok");
    expect(a.changes.map((c) => `${c.from}→${c.item.level}`)).toEqual(["warn→ok"]);
    a = assess(sample(3, { disk: 97 }), cfg, a);
    a = assess(sample(4, { disk: 94 }), cfg, a);
    expect(level(a, "disk:/var/lib/tandem")).toBe("alarm");
    a = assess(sample(5, { disk: 92 }), cfg, a);
    expect(level(a, "disk:/var/lib/tandem")).toBe("warn");
  });

  it("CPU counts only once it has held above a threshold for forSeconds", () => {
    let a = assess(sample(0, { cpu: 99 }), cfg, null);
    expect(level(a, "cpu")).toBe("ok");
    a = assess(sample(20_000, { cpu: 99 }), cfg, a);
    expect(level(a, "cpu")).toBe("ok");
    a = assess(sample(30_000, { cpu: 99 }), cfg, a);
    expect(level(a, "cpu")).toBe("alarm");
    // a short dip below the alarm threshold but above the margin keeps it
    a = assess(sample(40_000, { cpu: 97 }), cfg, a);
    expect(level(a, "cpu")).toBe("alarm");
    a = assess(sample(50_000, { cpu: 50 }), cfg, a);
    expect(level(a, "cpu")).toBe("ok");
    // a burst shorter than forSeconds never counts
    a = assess(sample(60_000, { cpu: 99 }), cfg, a);
    a = assess(sample(70_000, { cpu: 20 }), cfg, a);
    a = assess(sample(80_000, { cpu: 99 }), cfg, a);
    expect(level(a, "cpu")).toBe("ok");
  });

  it("refuses thresholds in the wrong order, with the key", () => {
    const r = monitoringSection.safeParse({ disk: { warnPercent: 96, alarmPercent: 90 } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/alarmPercent must be at least warnPercent/);
  });
});
