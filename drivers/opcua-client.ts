// What the OPC UA driver and the browse command share: the security settings
// by their config names, and one way to build a node-opcua client.
import {
  ClientTCP_transport,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type IClientTransportFactory,
  type OPCUACertificateManager,
  type UserIdentityInfo,
} from "node-opcua";

export const SECURITY_MODE = { None: MessageSecurityMode.None, Sign: MessageSecurityMode.Sign, SignAndEncrypt: MessageSecurityMode.SignAndEncrypt } as const;
export const SECURITY_POLICY = {
  None: SecurityPolicy.None,
  Basic256Sha256: SecurityPolicy.Basic256Sha256,
  Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
  Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
} as const;

export interface ClientSettings {
  securityMode: keyof typeof SECURITY_MODE;
  securityPolicy?: keyof typeof SECURITY_POLICY;
  pki: OPCUACertificateManager;
  /** node-opcua's transport and transaction timeouts, and its keep-alive; absent: the library's defaults */
  requestTimeoutMs?: number;
}

export function createClient(o: ClientSettings): OPCUAClient {
  const policy = o.securityPolicy ?? (o.securityMode === "None" ? "None" : "Basic256Sha256");
  return OPCUAClient.create({
    // one certificate per node: every device shares the application name it was issued for
    applicationName: "Tandem",
    endpointMustExist: false,
    securityMode: SECURITY_MODE[o.securityMode],
    securityPolicy: SECURITY_POLICY[policy],
    clientCertificateManager: o.pki,
    // one attempt: our own loop decides the next path and the backoff
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    transportFactory: guardedTransport,
    ...(o.requestTimeoutMs === undefined
      ? {}
      : {
          requestedSessionTimeout: 60_000,
          keepSessionAlive: true,
          keepAliveInterval: Math.max(1000, Math.min(5000, o.requestTimeoutMs)),
          transportTimeout: o.requestTimeoutMs,
          defaultTransactionTimeout: o.requestTimeoutMs,
        }),
  });
}

export function identity(username: string | undefined, password: string | undefined): UserIdentityInfo {
  if (username !== undefined) return { type: UserTokenType.UserName, userName: username, password: password ?? "" };
  return { type: UserTokenType.Anonymous };
}

/** Part 6 §7.1.2.3–4: a MessageChunk buffer is at least this large, both ways */
const MIN_BUFFER = 8192;

const baseEmit = ClientTCP_transport.prototype.emit as (this: ClientTCP_transport, event: string | symbol, ...args: unknown[]) => boolean;

/**
 * node-opcua's TCP transport, guarded where a hostile or broken server's
 * bytes enter (found by test/unit/opcua-fuzz.test.ts). node-opcua 2.182
 * throws out of its socket handlers, so as an uncaught exception that ends
 * the node, on (1) an Acknowledge whose ReceiveBufferSize is below 8 bytes
 * (an assertion in its packet assembler) and (2) an ERR message after the
 * Acknowledge whose StatusCode or Reason cannot be decoded (a reason length
 * beyond the chunk or above 16 MiB). Here (1) an Acknowledge whose buffer
 * sizes are below the 8192 bytes Part 6 requires fails the connect, with the
 * reason, and (2) a chunk node-opcua cannot take ends the connection instead
 * of the process.
 */
class GuardedTransport extends ClientTCP_transport {
  protected override _install_one_time_message_receiver(callback: (err: Error | null, data?: Buffer) => void): void {
    super._install_one_time_message_receiver((err, data) => {
      const refused = err || !data ? null : ackProblem(data);
      if (refused) callback(new Error(refused));
      else callback(err, data);
    });
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "chunk") return baseEmit.call(this, event, ...args);
    try {
      return baseEmit.call(this, event, ...args);
    } catch (e) {
      // a close without a socket error: the reason, not node-opcua's "Connection Break", reaches the request waiting (the driver's status)
      this._theCloseError = new Error(`the server sent a message the OPC UA client cannot decode (${(e as Error).message})`);
      this._socket?.destroy();
      return true;
    }
  }
}

/** why an Acknowledge cannot be used, or null (anything else passes: node-opcua checks it) */
function ackProblem(chunk: Buffer): string | null {
  if (chunk.length < 28 || chunk.toString("latin1", 0, 3) !== "ACK") return null;
  const receive = chunk.readUInt32LE(12);
  const send = chunk.readUInt32LE(16);
  if (receive >= MIN_BUFFER && send >= MIN_BUFFER) return null;
  return `the server's Acknowledge gives ReceiveBufferSize ${receive} and SendBufferSize ${send} bytes; OPC UA (Part 6 §7.1.2) requires at least ${MIN_BUFFER}`;
}

const guardedTransport: IClientTransportFactory = { create: (settings) => new GuardedTransport(settings) };
