// OPC UA TCP framing built by hand, after OPC UA Part 6 §7.1.2 (3-byte
// message type, chunk type, uint32 LE message size, then the fields), for
// test/unit/opcua-fuzz.test.ts: a hostile server's answers — HEL/ACK, ERR,
// OPN and MSG chunks whose fields may lie — and the few fields it reads back
// from the client's requests.
export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
export const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n | 0);
  return b;
};
/** a String or ByteString: int32 length (−1: null), then the bytes; `length` may lie */
export const uaBytes = (bytes: Buffer | null, length = bytes ? bytes.length : -1) => Buffer.concat([i32(length), bytes ?? Buffer.alloc(0)]);
export const NONE_POLICY = Buffer.from("http://opcfoundation.org/UA/SecurityPolicy#None", "latin1");

/** one chunk: message type, chunk type, message size (the whole chunk, header included, unless `size` says otherwise), body */
export function chunk(type: string, body: Buffer, size?: number, chunkType = "F"): Buffer {
  const h = Buffer.alloc(8);
  h.write(type, 0, 3, "latin1");
  h.write(chunkType, 3, 1, "latin1");
  h.writeUInt32LE((size ?? body.length + 8) >>> 0, 4);
  return Buffer.concat([h, body]);
}

export interface Ack {
  version: number;
  receiveBufferSize: number;
  sendBufferSize: number;
  maxMessageSize: number;
  maxChunkCount: number;
}
export const ackBody = (a: Ack) => Buffer.concat([a.version, a.receiveBufferSize, a.sendBufferSize, a.maxMessageSize, a.maxChunkCount].map(u32));

export interface Err {
  status: number;
  /** the reason's length field (−1 null, or a lie up to 2^31−1) */
  reasonLength: number;
  reason: Uint8Array;
  size?: number;
}
export const errChunk = (e: Err) => chunk("ERR", Buffer.concat([u32(e.status), uaBytes(Buffer.from(e.reason), e.reasonLength)]), e.size);

/** what the server sends to the client's next MSG request (GetEndpoints), after a well-formed OPN response */
export type MsgAnswer =
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "err"; err: Err }
  | { kind: "msg"; seqSkip: number; wrongChannel: boolean; typeId: number | null; body: Uint8Array }
  | { kind: "silence" };

/** the body of an OPN response */
export type OpnBody =
  | { kind: "random"; bytes: Uint8Array }
  /** a type id (OpenSecureChannelResponse 449, ServiceFault 397, or any) and whatever follows */
  | { kind: "typed"; typeId: number; rest: Uint8Array }
  /** a well-formed OpenSecureChannelResponse, then what the next request gets */
  | { kind: "valid"; lifetimeMs: number; next: MsgAnswer };

/** what the server sends to the client's OpenSecureChannel request, after an ACK */
export type OpnAnswer =
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "err"; err: Err }
  | { kind: "opn"; policy: "none" | "other" | "lying-length"; chunkType: "F" | "C" | "A"; size?: number; wrongRequest: boolean; body: OpnBody }
  | { kind: "silence" };

/** what the server sends to the client's Hello */
export type HelAnswer =
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "ack"; ack: Ack; size?: number; extra: Uint8Array; next: OpnAnswer }
  | { kind: "ack-truncated"; ack: Ack; keep: number }
  | { kind: "err"; err: Err }
  | { kind: "close" }
  | { kind: "silence" };

/** one connection's treatment: the answer, cut where `cuts` say, pieces `pauseMs` apart, closed after the answer or not */
export interface Plan {
  answer: HelAnswer;
  cuts: number[];
  pauseMs: number;
  closeAfter: boolean;
}

/** an OpenSecureChannelResponse (Part 4 §5.5.2), encoded by hand */
export function openSecureChannelResponse(requestHandle: number, channelId: number, lifetimeMs: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x01, 0x00, 0xc1, 0x01]), // NodeId, four-byte form: ns 0, i=449 (OpenSecureChannelResponse_Encoding_DefaultBinary)
    Buffer.alloc(8), // ResponseHeader.timestamp
    u32(requestHandle),
    u32(0), // serviceResult Good
    Buffer.from([0x00]), // serviceDiagnostics: empty DiagnosticInfo
    i32(-1), // stringTable: null array
    Buffer.from([0x00, 0x00, 0x00]), // additionalHeader: null ExtensionObject
    u32(0), // serverProtocolVersion
    u32(channelId),
    u32(1), // tokenId
    Buffer.alloc(8), // createdAt
    u32(lifetimeMs),
    i32(-1), // serverNonce: null
  ]);
}

/** the request id in a client's OPN (after the asymmetric security header) or MSG chunk, or null when it cannot be read */
export function requestIdOf(m: Buffer): number | null {
  try {
    if (m.toString("latin1", 0, 3) === "MSG") return m.readUInt32LE(20);
    let o = 12;
    for (let k = 0; k < 3; k++) o += 4 + Math.max(0, m.readInt32LE(o));
    return m.readUInt32LE(o + 4);
  } catch {
    return null;
  }
}
