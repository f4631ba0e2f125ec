// A bare TCP connect, closed at once: whether a device accepts connections
// again, at the cost of an accept and a close (no Modbus request, no OPC UA
// hello, secure channel or session). Used while the reconnect backoff runs
// (drivers/path-supervisor.ts).
import net from "node:net";

/** true when host:port accepts a TCP connection within timeoutMs; false on refusal, timeout or abort. */
export function tcpProbe(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const socket = new net.Socket();
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(ok);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", () => finish(false));
    socket.connect({ host, port }, () => finish(true));
  });
}

/** host and port of an opc.tcp:// URL (4840 when the port is left out), or null. */
export function opcTcpHostPort(url: string): { host: string; port: number } | null {
  const m = /^opc\.tcp:\/\/(\[[^\]]+\]|[^\s/:]+)(?::(\d{1,5}))?/.exec(url);
  if (!m) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: m[2] ? Number(m[2]) : 4840 };
}
