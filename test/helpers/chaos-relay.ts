// A relay that sits on a peer link between two real nodes so a test can cut
// it like a failed switch: datagrams and TCP bytes are silently dropped (no
// FIN, no RST — a partition looks like silence, not like a dead process).
// It can also record datagrams for replay attacks.
import dgram from "node:dgram";
import net from "node:net";

export class UdpRelay {
  private sock: dgram.Socket | null = null;
  cut = false;
  /** datagrams seen, oldest first (bounded) */
  readonly recorded: Buffer[] = [];
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly host = "127.0.0.1",
  ) {}

  async start(port = 0): Promise<number> {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((res, rej) => {
      sock.once("error", rej);
      sock.bind(port, this.host, () => res());
    });
    sock.on("message", (msg) => {
      if (this.recorded.length < 500) this.recorded.push(Buffer.from(msg));
      if (!this.cut) sock.send(msg, this.target.port, this.target.host);
    });
    this.sock = sock;
    this.port = sock.address().port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

export class TcpRelay {
  private server: net.Server | null = null;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private blackholed = false;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly host = "127.0.0.1",
  ) {}

  async start(port = 0): Promise<number> {
    const server = net.createServer((inbound) => {
      if (this.blackholed) {
        // a partitioned network: the connection attempt goes nowhere
        inbound.on("error", () => undefined);
        this.pairs.add([inbound, inbound]);
        return;
      }
      const outbound = net.connect(this.target);
      const pair: [net.Socket, net.Socket] = [inbound, outbound];
      this.pairs.add(pair);
      const forward = (from: net.Socket, to: net.Socket) => {
        from.on("data", (d) => {
          if (!this.blackholed) to.write(d);
        });
        from.on("close", () => {
          this.pairs.delete(pair);
          // the other end's kernel closed it: pass that on, unless partitioned
          if (!this.blackholed) to.destroy();
        });
        from.on("error", () => undefined);
      };
      forward(inbound, outbound);
      forward(outbound, inbound);
    });
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(port, this.host, () => res());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Drop every byte from now on, silently. */
  set cut(on: boolean) {
    if (this.blackholed && !on) {
      // the partition heals: the streams lost bytes, so they are reset and the nodes reconnect
      for (const [a, b] of this.pairs) {
        a.destroy();
        b.destroy();
      }
      this.pairs.clear();
    }
    this.blackholed = on;
  }

  get cut(): boolean {
    return this.blackholed;
  }

  async stop(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
