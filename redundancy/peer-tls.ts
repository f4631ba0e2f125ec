// Mutual TLS for the peer connection (peer.tls in the config), under the
// pair's HMAC, which stays: TLS keeps the stream private and refuses any host
// without a certificate from the site CA before a byte of the peer protocol
// is read; the HMAC still proves the pair key, as without TLS.
//
// Only the TCP side changes; heartbeats stay UDP datagrams authenticated by
// the HMAC alone (wire.ts). Both ends present their certificate and require
// one that chains to `ca`; with `peerName`, the other end's certificate must
// also carry that name (a DNS subjectAltName, or its CN).
//
// The listener accepts the TCP connection itself and hands it to the peer
// link at once, so the pre-auth gate (peer-gate.ts) bounds the handshake as
// it bounds a plain connection: the time limit runs from accept, and the caps
// count connections still in their handshake. The handshake runs in a
// tls.Server the connection is passed to (it does the certificate checks);
// its bytes reach the peer link only once the peer's certificate was accepted.
import net from "node:net";
import tls from "node:tls";
import type { Network, StreamConn } from "./net.js";
import { listenStreamServer, wrapStream } from "./net.js";

export interface PeerTlsOptions {
  /** the site CA (PEM): the only issuer a peer's certificate may chain to */
  ca: Buffer | string;
  /** this node's certificate (PEM; intermediates after it) and its private key */
  cert: Buffer | string;
  key: Buffer | string;
  /** the name the peer's certificate must carry; any certificate from the CA when absent */
  peerName?: string;
}

/** `remote` was refused: why, in words an engineer can act on; `outbound` when this node connected to it. */
export type TlsRefused = (remote: string, why: string, outbound: boolean) => void;

const HANDSHAKE_BACKSTOP_MS = 30_000; // the pre-auth gate closes a slow handshake long before this

const showRemote = (host: string | undefined, port: number | undefined) =>
  host === undefined ? "an unknown address" : `${host.includes(":") ? `[${host}]` : host}:${port ?? "?"}`;

const VERIFY_WORDS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate was not issued by the site CA (peer.tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate was not issued by the site CA (peer.tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate was not issued by the site CA (peer.tls.ca)",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate chains to a CA other than the site CA (peer.tls.ca)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed, not issued by the site CA (peer.tls.ca)",
  CERT_HAS_EXPIRED: "its certificate has expired",
  CERT_NOT_YET_VALID: "its certificate is not valid yet (check both clocks)",
  CERT_SIGNATURE_FAILURE: "its certificate's signature does not verify",
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "it sent no certificate (is peer.tls set on the peer?)",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "the peer wants a certificate from this node and got none",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the peer does not accept this node's certificate (not from the CA it trusts)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the peer does not accept this node's certificate",
  ERR_SSL_WRONG_VERSION_NUMBER: "it does not speak TLS (is peer.tls set on the peer?)",
  ERR_SSL_HTTP_REQUEST: "it sent an HTTP request, not TLS",
};

/** Words for a verification or handshake error code, the code kept for search. */
export function tlsWhy(code: string | undefined | null, message?: string): string {
  const c = code ?? "unknown";
  return `${VERIFY_WORDS[c] ?? message ?? "TLS handshake failed"} [${c}]`;
}

/** Why `cert` does not carry `name`, or null when it does (or no name is required). */
function nameProblem(name: string | undefined, cert: tls.PeerCertificate): string | null {
  if (!name) return null;
  const err = tls.checkServerIdentity(name, cert);
  return err ? `its certificate is not for '${name}' (peer.tls.peerName): ${err.message}` : null;
}

/**
 * The accepted side of one connection, handed to the peer link at accept:
 * its bytes flow once the TLS handshake accepted the peer's certificate.
 */
class AcceptedConn implements StreamConn {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  secure: tls.TLSSocket | null = null;
  destroyed = false;
  private closed = false;
  private readonly dataFns: ((b: Buffer) => void)[] = [];
  private readonly closeFns: (() => void)[] = [];
  private readonly errorFns: ((code: string) => void)[] = [];

  constructor(readonly raw: net.Socket) {
    this.remoteAddress = raw.remoteAddress;
    this.remotePort = raw.remotePort;
    raw.setNoDelay(true);
    raw.on("close", () => this.close());
  }

  attach(s: tls.TLSSocket): void {
    this.secure = s;
    s.on("data", (b: Buffer) => this.dataFns.forEach((f) => f(b)));
    s.on("error", (err: NodeJS.ErrnoException) => this.errorFns.forEach((f) => f(err.code ?? "ERROR")));
    s.on("close", () => this.close());
  }

  write(bytes: Buffer): void {
    // nothing is written before the peer authenticated, and that needs the handshake done
    this.secure?.write(bytes);
  }

  destroy(): void {
    this.destroyed = true;
    this.secure?.destroy();
    this.raw.destroy();
  }

  onData(fn: (chunk: Buffer) => void): void {
    this.dataFns.push(fn);
  }

  onClose(fn: () => void): void {
    this.closeFns.push(fn);
  }

  onError(fn: (code: string) => void): void {
    this.errorFns.push(fn);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeFns.forEach((f) => f());
  }
}

/** `base` with its TCP side replaced by mutual TLS; `refused` hears of every peer turned away for its certificate. */
export function tlsNetwork(base: Network, opts: PeerTlsOptions, refused: TlsRefused): Network {
  const credentials = { ca: opts.ca, cert: opts.cert, key: opts.key, minVersion: "TLSv1.2" as const };
  // fail at start, with the reason, on an unreadable certificate or key
  tls.createSecureContext(credentials);
  return {
    ...base,

    async listenTcp(addr, onConn, onError) {
      const inHandshake = new Map<string, AcceptedConn>();
      const keyOf = (host: string | undefined, port: number | undefined) => `${host}|${port}`;
      // rejectUnauthorized false: the checks below refuse, and say why
      const tlsServer = tls.createServer({ ...credentials, requestCert: true, rejectUnauthorized: false, handshakeTimeout: HANDSHAKE_BACKSTOP_MS });
      tlsServer.on("secureConnection", (s: tls.TLSSocket) => {
        const k = keyOf(s.remoteAddress, s.remotePort);
        const conn = inHandshake.get(k);
        inHandshake.delete(k);
        if (!conn || conn.destroyed) return void s.destroy();
        const why = s.authorized ? nameProblem(opts.peerName, s.getPeerCertificate()) : tlsWhy(String(s.authorizationError));
        if (why) {
          refused(showRemote(conn.remoteAddress, conn.remotePort), why, false);
          conn.destroy();
          return;
        }
        conn.attach(s);
      });
      tlsServer.on("tlsClientError", (err: NodeJS.ErrnoException, s: tls.TLSSocket) => {
        const k = keyOf(s.remoteAddress, s.remotePort);
        const conn = inHandshake.get(k);
        inHandshake.delete(k);
        // closed by the gate, or a connection that hung up without a handshake: not a TLS refusal
        if (!conn || conn.destroyed || err.code === "ECONNRESET" || err.code === "EPIPE") return;
        refused(showRemote(conn.remoteAddress, conn.remotePort), tlsWhy(err.code, err.message), false);
      });
      const server = net.createServer((raw) => {
        const conn = new AcceptedConn(raw);
        const k = keyOf(raw.remoteAddress, raw.remotePort);
        inHandshake.set(k, conn);
        raw.once("close", () => inHandshake.get(k) === conn && inHandshake.delete(k));
        onConn(conn); // the gate may close it right here
        if (!conn.destroyed) tlsServer.emit("connection", raw);
      });
      return listenStreamServer(server, addr, onError);
    },

    connectTcp(addr) {
      const s = tls.connect({
        ...credentials,
        host: addr.host,
        port: addr.port,
        // the chain is checked against the CA; the name only when peerName is set
        checkServerIdentity: (_host, cert) => {
          const why = nameProblem(opts.peerName, cert);
          return why ? new Error(why) : undefined;
        },
      });
      const remote = showRemote(addr.host, addr.port);
      s.on("error", (err: NodeJS.ErrnoException) => {
        // the process is gone or the network is: the peer link's own business
        if (err.code && /^E[A-Z]+$/.test(err.code)) return;
        refused(remote, tlsWhy(err.code, err.message), true);
      });
      return wrapStream(s);
    },
  };
}
