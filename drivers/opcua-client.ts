// What the OPC UA driver and the browse command share: the security settings
// by their config names, and one way to build a node-opcua client.
import { MessageSecurityMode, OPCUAClient, SecurityPolicy, UserTokenType, type OPCUACertificateManager, type UserIdentityInfo } from "node-opcua";

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
