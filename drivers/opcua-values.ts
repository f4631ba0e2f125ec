// OPC UA values both ways: a DataValue becomes a sample (status code →
// quality), and an engineering value becomes a Variant of the node's
// built-in type through the one conversion all drivers share (tag-value.ts).
import { DataType, StatusCodes, Variant, VariantArrayType, type DataValue } from "node-opcua";
import { TandemError } from "../core/errors.js";
import type { Scaling, TagSample } from "./tag-model.js";
import { toRaw, writtenValue, type ValueSpec, type ValueType } from "./tag-value.js";

/** OPC UA status → quality; the reason names the status code. */
export function qualityOf(dv: DataValue, receivedAt: number): TagSample {
  const sc = dv.statusCode ?? StatusCodes.Good;
  const sourceTime = dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? null;
  if (sc.isGood()) return { value: variantValue(dv.value), quality: "good", sourceTime, receivedAt };
  if (!sc.isBad()) return { value: variantValue(dv.value), quality: "uncertain", reason: `opcua:${sc.name}`, sourceTime, receivedAt };
  const name = sc.name;
  const reason = /BadNodeIdUnknown|BadNodeIdInvalid|BadAttributeIdInvalid|BadFilterNotAllowed|BadNotReadable|BadUserAccessDenied/.test(name) ? `config: opcua:${name}` : `opcua:${name}`;
  return { value: null, quality: "bad", reason, sourceTime, receivedAt };
}

function variantValue(v: Variant | null | undefined): unknown {
  if (!v) return null;
  const x = v.value as unknown;
  if ((v.dataType === DataType.Int64 || v.dataType === DataType.UInt64) && Array.isArray(x) && x.length === 2) {
    const big = (BigInt(x[0] as number) << 32n) | BigInt((x[1] as number) >>> 0);
    return v.dataType === DataType.Int64 ? BigInt.asIntN(64, big) : big;
  }
  if (x instanceof Date) return x.toISOString();
  if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number>);
  return x;
}

const VALUE_TYPE: Partial<Record<DataType, ValueType>> = {
  [DataType.Boolean]: "bool",
  [DataType.SByte]: "int8",
  [DataType.Byte]: "uint8",
  [DataType.Int16]: "int16",
  [DataType.UInt16]: "uint16",
  [DataType.Int32]: "int32",
  [DataType.UInt32]: "uint32",
  [DataType.Int64]: "int64",
  [DataType.UInt64]: "uint64",
  [DataType.Float]: "float32",
  [DataType.Double]: "float64",
  [DataType.String]: "string",
};

/** An engineering value (JSON) → a scalar Variant of the node's built-in type, or TANDEM_ERR_TAG_VALUE. */
export function toVariant(tag: string, dataType: DataType, value: unknown, scaling?: Scaling): Variant {
  return toWrite(tag, dataType, value, scaling).variant;
}

/** The Variant to write and the value the server then holds, as JSON in engineering units (tag-value.ts writtenValue). */
export function toWrite(tag: string, dataType: DataType, value: unknown, scaling?: Scaling): { variant: Variant; written: unknown } {
  const type = VALUE_TYPE[dataType];
  if (!type) throw new TandemError("TANDEM_ERR_TAG_VALUE", [tag, `writing ${DataType[dataType]} values is not supported`]);
  const spec: ValueSpec = { type, typeName: DataType[dataType], ...(scaling ? { scaling } : {}) };
  const raw = toRaw(tag, spec, value);
  let v: unknown = raw;
  if (typeof raw === "bigint") {
    // Int64/UInt64 travel as [high, low] pairs of 32-bit words
    const u = BigInt.asUintN(64, raw);
    v = [Number(u >> 32n), Number(u & 0xffffffffn)];
  }
  // say it is a scalar: a [high, low] pair is not an array
  return { variant: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: v }), written: writtenValue(spec, raw) };
}
