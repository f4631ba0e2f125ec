// Fails a test file that leaves a timer, socket, server or child process open.
// Runs in every test worker (vitest setupFiles): it snapshots the resources
// that exist before the file's tests and compares after its own afterAll hooks.
import { afterAll, beforeAll } from "vitest";

// Resource kinds that mean "something was left running".
const WATCHED = new Set(["Timeout", "TCPSocketWrap", "TCPServerWrap", "UDPWrap", "ProcessWrap", "PipeWrap", "FSEventWrap", "TTYWrap"]);

function census(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.has(r)) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

let before = new Map<string, number>();

beforeAll(() => {
  before = census();
});

// Registered first, so it runs last (vitest runs afterAll hooks in reverse).
afterAll(async () => {
  // Give closing handles one turn of the loop to go away.
  for (let i = 0; i < 20; i++) {
    if (leaks().length === 0) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 25).unref());
  }
  const left = leaks();
  if (left.length) throw new Error(`leak check: this test file left open: ${left.join(", ")}`);
});

function leaks(): string[] {
  const now = census();
  const out: string[] = [];
  for (const [k, n] of now) {
    const extra = n - (before.get(k) ?? 0);
    if (extra > 0) out.push(`${extra}× ${k}`);
  }
  return out;
}
