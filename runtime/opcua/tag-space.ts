// The tag model in the node's OPC UA address space: Objects/Tandem/<device>/
// <tag>, one variable per tag (node id ns=1;s=<tag name>), its value, status
// and timestamps set from the tag bus as they change, and the writes clients
// send, judged here and carried out by the node's normal tag write. The
// decisions (types, status codes) are mapping.ts's; this file talks to
// node-opcua.
import {
  DataType,
  DataValue,
  makeEUInformation,
  NumericRange,
  ObjectIds,
  PermissionFlag,
  PermissionType,
  resolveNodeId,
  StatusCode,
  StatusCodes,
  Variant,
  VariantArrayType,
  type AddressSpace,
  type ISessionContext,
  type Namespace,
  type UAObject,
  type UAVariable,
  standardUnits,
  UserNameIdentityToken,
} from "node-opcua";
import type { DeviceConfig, TagConfig } from "../../drivers/config-schema.js";
import type { TagSnapshot } from "../../drivers/tag-model.js";
import { fromUaValue, nodeIdOf, statusOf, toUaValue, typeOfValue, uaTypeOfSource, uaTypeOfTag, type UaTypeName } from "./mapping.js";

/** who asks for a write, from their session */
export interface UaWriter {
  /** the session's user name; null for an anonymous session */
  user: string | null;
  from: string;
}

export interface TagSpaceOptions {
  tags: readonly TagConfig[];
  devices: readonly DeviceConfig[];
  /** the type an OPC UA device gave a tag's value (DriverManager.sourceType) */
  sourceType: (tag: string) => string | undefined;
  /** a client's write, after the address space's own checks: resolves with the StatusCode name */
  write: (who: UaWriter, tag: string, value: unknown) => Promise<string>;
}

interface Entry {
  variable: UAVariable;
  /** null until an OPC UA source's first value tells it */
  type: UaTypeName | null;
}

export const knownStatus = (name: string): boolean => (StatusCodes as unknown as Record<string, unknown>)[name] instanceof StatusCode;
const statusCode = (name: string): StatusCode => (knownStatus(name) ? (StatusCodes as unknown as Record<string, StatusCode>)[name]! : StatusCodes.Bad);

/**
 * Everyone who may open a session reads and browses; operators (and admins)
 * may write (Part 18 well-known roles). Whether a tag is writable at all is
 * its AccessLevel's: an operator writing a read-only tag is told
 * BadNotWritable, as the node says, not BadUserAccessDenied.
 */
const PERMISSIONS = (() => {
  const read = PermissionFlag.Browse | PermissionFlag.Read | PermissionFlag.ReadRolePermissions;
  return [
    { roleId: ObjectIds.WellKnownRole_Anonymous, permissions: read },
    { roleId: ObjectIds.WellKnownRole_AuthenticatedUser, permissions: read },
    { roleId: ObjectIds.WellKnownRole_Observer, permissions: read },
    { roleId: ObjectIds.WellKnownRole_Operator, permissions: read | PermissionFlag.Write },
  ];
})();

/** Tandem's units are free text: the UNECE unit when node-opcua knows the symbol, else the text with unitId -1 (Part 8: none available). */
function engineeringUnits(units: string) {
  const std = Object.values(standardUnits).find((u) => u.displayName.text === units);
  if (std) return std;
  const eu = makeEUInformation("", units, units);
  eu.unitId = -1;
  return eu;
}

export class TagSpace {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly o: TagSpaceOptions) {}

  /** Folders and variables, every value "waiting for initial data" until the bus says otherwise. */
  build(addressSpace: AddressSpace, ns: Namespace): void {
    const root = ns.addFolder(addressSpace.rootFolder.objects, { browseName: "Tandem", nodeId: `s=${nodeIdOf.root()}` });
    const folders = new Map<string, UAObject>();
    for (const dev of this.o.devices) {
      folders.set(dev.name, ns.addFolder(root, { browseName: dev.name, nodeId: `s=${nodeIdOf.device(dev.name)}`, description: `${dev.driver} device ${dev.name}` }) as unknown as UAObject);
    }
    for (const t of this.o.tags) {
      const dev = this.o.devices.find((d) => d.name === t.device);
      if (!dev) continue;
      const { type, arrayLength } = uaTypeOfTag(t, dev);
      const variable = ns.addVariable({
        organizedBy: folders.get(dev.name)!,
        browseName: t.name,
        nodeId: `s=${nodeIdOf.tag(t.name)}`,
        ...(t.description ? { description: t.description } : {}),
        // an OPC UA source's type is known once it answered (retype below)
        dataType: type ?? "BaseDataType",
        valueRank: arrayLength !== undefined ? 1 : type ? -1 : -2,
        ...(arrayLength !== undefined ? { arrayDimensions: [arrayLength] } : {}),
        accessLevel: t.writable ? "CurrentRead | CurrentWrite" : "CurrentRead",
        userAccessLevel: t.writable ? "CurrentRead | CurrentWrite" : "CurrentRead",
        // values are set as the bus delivers them: a subscription is told at once, nothing is sampled
        minimumSamplingInterval: 0,
        rolePermissions: PERMISSIONS,
        value: { dataType: DataType.Null, value: null },
      });
      if (t.units) {
        ns.addVariable({
          propertyOf: variable,
          browseName: { name: "EngineeringUnits", namespaceIndex: 0 },
          typeDefinition: "PropertyType",
          dataType: "EUInformation",
          accessLevel: "CurrentRead",
          value: { dataType: DataType.ExtensionObject, value: engineeringUnits(t.units) },
        });
      }
      this.setDataValue(variable, new DataValue({ value: new Variant({ dataType: DataType.Null }), statusCode: StatusCodes.BadWaitingForInitialData }));
      const entry: Entry = { variable, type };
      this.entries.set(t.name, entry);
      if (t.writable) this.takeWrites(entry, t.name);
    }
  }

  /** A tag's new snapshot from the bus: value, status from its quality, source time and the time Tandem received it. */
  update(t: TagSnapshot): void {
    const e = this.entries.get(t.name);
    if (!e) return;
    if (e.type === null && t.value !== null && t.quality !== "bad") {
      const type = uaTypeOfSource(this.o.sourceType(t.name)) ?? typeOfValue(t.value);
      if (type) this.retype(e, type);
    }
    let status = statusOf(t.quality, t.reason, knownStatus);
    let variant = new Variant({ dataType: DataType.Null });
    if (t.value !== null && e.type !== null) {
      const v = toUaValue(e.type, t.value);
      if (v === undefined) status = "BadTypeMismatch";
      else variant = new Variant({ dataType: DataType[e.type], arrayType: Array.isArray(t.value) ? VariantArrayType.Array : VariantArrayType.Scalar, value: v });
    }
    const received = t.receivedAt ? new Date(t.receivedAt) : new Date();
    this.setDataValue(e.variable, new DataValue({ value: variant, statusCode: statusCode(status), sourceTimestamp: t.timestamp ? new Date(t.timestamp) : received, serverTimestamp: received }));
  }

  /**
   * node-opcua's setValueFromSource stamps the server time with the source's;
   * Part 4 wants the time the server received the value (the tag's
   * receivedAt). Its own setValueFromSource ends in this very method, which
   * keeps the type check and tells the subscriptions.
   */
  private setDataValue(v: UAVariable, dv: DataValue): void {
    (v as unknown as { _internal_set_dataValue(dv: DataValue): void })._internal_set_dataValue(dv);
  }

  /**
   * The type of an OPC UA tag, once its first value came: node-opcua
   * refuses a Boolean in a BaseDataType variable, and offers no public way to
   * change a variable's DataType; these are the two fields its own
   * changeUAVariableDataType sets.
   */
  private retype(e: Entry, type: UaTypeName): void {
    const v = e.variable as unknown as { dataType: ReturnType<typeof resolveNodeId>; _basicDataType: unknown };
    v.dataType = resolveNodeId(DataType[type]);
    v._basicDataType = null;
    e.type = type;
  }

  /**
   * A writable tag's writes go to the node, never into the address space:
   * the variable shows what the PLC holds once a read brings it, as every
   * other view of the tag does. node-opcua's setters are not told the
   * session (the user to check and to audit), so the variable's writeValue
   * is taken over; the library's own checks before it (the attribute, the
   * node) still run in writeAttribute.
   */
  private takeWrites(e: Entry, tag: string): void {
    const v = e.variable as unknown as { writeValue: (context: ISessionContext, dataValue: DataValue, rangeOrCallback?: unknown, callback?: unknown) => unknown };
    v.writeValue = (context: ISessionContext, dataValue: DataValue, rangeOrCallback?: unknown, callback?: unknown) => {
      const cb = (typeof rangeOrCallback === "function" ? rangeOrCallback : callback) as ((err: Error | null, sc: StatusCode) => void) | undefined;
      const range = typeof rangeOrCallback === "function" ? null : (rangeOrCallback as string | NumericRange | null | undefined);
      const judged = this.judgeWrite(e, tag, context, dataValue, range).catch(() => StatusCodes.BadInternalError);
      if (!cb) return judged;
      void judged.then((sc) => cb(null, sc));
      return undefined;
    };
  }

  private async judgeWrite(e: Entry, tag: string, context: ISessionContext, dv: DataValue, range: string | NumericRange | null | undefined): Promise<StatusCode> {
    if (!e.variable.isWritable(context)) return StatusCodes.BadNotWritable;
    if (!context.checkPermission(e.variable, PermissionType.Write)) return StatusCodes.BadUserAccessDenied;
    // a part of an array, or a status of the client's own: the PLC holds whole values with their own quality
    if (range && !NumericRange.coerce(range).isEmpty()) return StatusCodes.BadWriteNotSupported;
    if (dv.statusCode && !dv.statusCode.isGood()) return StatusCodes.BadWriteNotSupported;
    const variant = dv.value;
    if (!variant || variant.dataType === DataType.Null) return StatusCodes.BadTypeMismatch;
    const session = context.session as { channel?: { remoteAddress?: string } } | undefined;
    // by the token, not by name: an anonymous session is "anonymous" to node-opcua, which a user could be called too
    const token = context.session?.userIdentityToken;
    const who: UaWriter = { user: token instanceof UserNameIdentityToken ? (token.userName ?? "") : null, from: `opcua ${session?.channel?.remoteAddress ?? "?"}` };
    return statusCode(await this.o.write(who, tag, fromUaValue(e.type, variant.value)));
  }
}
