// What a service starts with: a small environment of its own (the node's
// secrets stay in the node), the pair's words it can fence its own writes
// with, and the user it runs as.
import { readFileSync } from "node:fs";
import { ConfigError } from "../../core/errors.js";
import type { ServiceInstance } from "./instance.js";

/** Passed on from the node's environment; everything else a service needs is in its config's env. */
const PASSED = ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "USER", "LOGNAME", "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT"];

export function serviceEnv(
  i: ServiceInstance,
  pair: { pairId: string; nodeId: string; epoch: number; state: string; api: string | undefined },
  user?: { name: string; home: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of PASSED) if (process.env[k] !== undefined) env[k] = process.env[k];
  if (user) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name });
  Object.assign(env, i.config.env, {
    TANDEM_PAIR: pair.pairId,
    TANDEM_NODE: pair.nodeId,
    TANDEM_EPOCH: String(pair.epoch),
    TANDEM_STATE: pair.state,
    TANDEM_SERVICE: i.name,
    TANDEM_INSTANCE: String(i.index),
    ...(pair.api ? { TANDEM_API: pair.api } : {}),
  });
  return env;
}

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The user a service runs as, from /etc/passwd. Only a node running as root
 * can switch; asking for another user otherwise is a config error at start.
 */
export function resolveUser(name: string, path: string): ServiceUser | undefined {
  if (process.platform === "win32") throw new ConfigError([{ path, message: `running a service as another user is not supported on Windows (run the Tandem service itself as that user)` }]);
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read /etc/passwd to find user '${name}': ${(err as Error).message}` }]);
  }
  const line = passwd.split("\n").find((l) => l.split(":")[0] === name);
  if (!line) throw new ConfigError([{ path, message: `no user '${name}' on this machine` }]);
  const f = line.split(":");
  const user = { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || "/" };
  const me = process.getuid?.();
  if (me === user.uid) return undefined; // already that user: nothing to switch
  if (me !== 0) throw new ConfigError([{ path, message: `cannot run a service as '${name}': this node does not run as root` }]);
  return user;
}
