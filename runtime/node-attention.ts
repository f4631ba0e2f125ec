// What on this node needs an operator's eye, for its status and the HMI:
// the items of its host monitoring, its watch for silences and over its log
// that are not ok, its backup alarms, and where its backups stand.
import type { BackupsView } from "./backup/node-backups.js";
import type { Item } from "./monitoring/assess.js";
import type { NodeStatus } from "./node-api.js";

type Attention = NonNullable<NodeStatus["attention"]>;

export function attentionOf(o: { host: Item[]; stale: Item[]; log: Item[]; backups: BackupsView | null }): Attention {
  const alarms: Attention["alarms"] = [];
  const add = (source: Attention["alarms"][number]["source"], items: Item[]) => {
    for (const i of items) if (i.level !== "ok") alarms.push({ source, level: i.level, text: i.text });
  };
  add("host", o.host);
  add("silence", o.stale);
  add("log", o.log);
  const b = o.backups;
  for (const text of b?.alarms ?? []) alarms.push({ source: "backup", level: "alarm", text });
  // alarms first, then warnings
  alarms.sort((x, y) => (x.level === y.level ? 0 : x.level === "alarm" ? -1 : 1));
  return {
    alarms,
    backups: b
      ? {
          makesBackups: b.makesBackups,
          last: b.last ? { name: b.last.name, ok: b.last.ok, at: b.last.at, ...(b.last.error ? { error: b.last.error } : {}) } : b.backups[0]?.createdAt ? { name: b.backups[0].name, ok: true, at: b.backups[0].createdAt } : null,
          restoreTest: b.lastRestoreTest ? { ok: b.lastRestoreTest.ok, at: b.lastRestoreTest.at, backup: b.lastRestoreTest.backup } : null,
          count: b.backups.filter((x) => x.problem === null).length,
        }
      : null,
  };
}
