// A copy of every audit line to syslog (RFC 5424 over UDP, RFC 5426), so the
// node's own file is not the only record: someone who can rewrite the data
// dir cannot take back what the syslog server already has. Best effort by
// nature (UDP has no acknowledgement): sends are counted, failures are
// counted and logged, and the action is never held up by them.
import dgram from "node:dgram";
import { hostname } from "node:os";
import { isIP } from "node:net";
import type { Logger } from "../../core/logger.js";
import { FACILITIES, type Facility } from "./facilities.js";

export { FACILITIES, type Facility };

/** RFC 5424 severities used here */
const NOTICE = 5;
const WARNING = 4;
/** RFC 5426 receivers SHOULD take 2048 octets; common ones take far more. Larger lines are cut (and say so). */
export const MAX_DATAGRAM = 8192;

export interface SyslogOptions {
  host: string;
  port: number;
  facility: Facility;
  appName: string;
  log: Logger;
}

/** RFC 5424 header fields: printable US-ASCII, no spaces, bounded. */
function field(s: string, max: number): string {
  const v = s.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return v.length ? v : "-";
}

/** One RFC 5424 message (without BOM: MSG is the audit line, JSON in UTF-8). */
export function formatSyslog(o: { facility: Facility; severity: number; ts: string; host: string; app: string; pid: number; msgid: string; msg: string }): Buffer {
  const pri = FACILITIES[o.facility] * 8 + o.severity;
  const head = `<${pri}>1 ${o.ts} ${field(o.host, 255)} ${field(o.app, 48)} ${o.pid} ${field(o.msgid, 32)} - `;
  let msg = Buffer.from(o.msg, "utf8");
  const room = MAX_DATAGRAM - Buffer.byteLength(head);
  if (msg.length > room) {
    const note = Buffer.from(` …(cut: ${msg.length} bytes)`);
    // cut at a character boundary
    let end = room - note.length;
    while (end > 0 && (msg[end]! & 0xc0) === 0x80) end--;
    msg = Buffer.concat([msg.subarray(0, end), note]);
  }
  return Buffer.concat([Buffer.from(head), msg]);
}

export class SyslogSender {
  private sock: dgram.Socket | null = null;
  private readonly host = hostname();
  private lastErrorLog = 0;
  private pending = 0;
  private drained: (() => void) | null = null;
  sent = 0;
  failed = 0;

  constructor(private readonly o: SyslogOptions) {}

  start(): void {
    if (this.sock) return;
    this.sock = dgram.createSocket(isIP(this.o.host) === 6 ? "udp6" : "udp4");
    this.sock.on("error", (err) => this.failure(err));
    this.sock.unref();
  }

  /** Sends one audit line; never throws. */
  send(line: string, entry: { ts: string; result: string }): void {
    const sock = this.sock;
    if (!sock) return;
    const msg = formatSyslog({
      facility: this.o.facility,
      severity: entry.result === "ok" || entry.result === "requested" ? NOTICE : WARNING,
      ts: entry.ts,
      host: this.host,
      app: this.o.appName,
      pid: process.pid,
      msgid: "audit",
      msg: line,
    });
    this.pending++;
    const done = (err?: Error | null) => {
      if (err) this.failure(err);
      else this.sent++;
      if (--this.pending === 0) this.drained?.();
    };
    try {
      sock.send(msg, this.o.port, this.o.host, done);
    } catch (err) {
      done(err as Error);
    }
  }

  private failure(err: Error): void {
    this.failed++;
    // one line a minute at most: a dead syslog server must not flood the node's log
    const now = Date.now();
    if (now - this.lastErrorLog < 60_000) return;
    this.lastErrorLog = now;
    this.o.log.error({ err, syslog: `${this.o.host}:${this.o.port}`, failed: this.failed }, `cannot send audit entries to syslog at ${this.o.host}:${this.o.port}: ${err.message} (the audit file still has them)`);
  }

  /** Lets the last sends (the node's stop entry) leave, for up to a second, then closes. */
  async stop(): Promise<void> {
    const sock = this.sock;
    this.sock = null;
    if (!sock) return;
    if (this.pending > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, 1000);
      });
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => sock.close(() => resolve()));
  }
}
