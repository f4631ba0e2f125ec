// The `opcua` config section: the node's own OPC UA server (docs/opcua-server.md).
// Only `opcua.server` exists today; the section is a mapping so that a later
// client-side setting has a place without a rename. Absent: no server.
// The logins are http.users (one list of people and roles for the HMI, the
// API, MQTT and OPC UA), so the section has no users of its own.
import { z } from "zod";
import { hostPort } from "../config/host-port.js";

export const UA_SECURITY_MODES = ["None", "Sign", "SignAndEncrypt"] as const;
export type UaSecurityMode = (typeof UA_SECURITY_MODES)[number];

const serverSchema = z.strictObject({
  /** where this node's OPC UA server listens (opc.tcp), e.g. 0.0.0.0:4840 */
  listen: hostPort,
  /** the message security modes offered; Sign and SignAndEncrypt use Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss */
  securityModes: z
    .array(z.enum(UA_SECURITY_MODES))
    .min(1, "offer at least one security mode")
    .refine((m) => new Set(m).size === m.length, { message: "a security mode is listed twice" })
    .default(["None", "Sign", "SignAndEncrypt"]),
  /** sessions without a user name may read (viewer level, never write); off by default */
  allowAnonymous: z.boolean().default(false),
  /** accept a client application certificate not yet in <dataDir>/pki/opcua-server/trusted (Sign, SignAndEncrypt); off in production */
  trustUnknownClientCertificates: z.boolean().default(false),
  /** sessions open at once; more are refused */
  maxSessions: z.number().int().min(1).max(1000).default(50),
});

export const opcuaSection = z
  .strictObject({
    /** this node's OPC UA server: the tag model, writes on the active, the pair's redundancy information */
    server: serverSchema.optional(),
  })
  .optional();

export type OpcuaConfig = NonNullable<z.output<typeof opcuaSection>>;
export type OpcuaServerConfig = z.output<typeof serverSchema>;
