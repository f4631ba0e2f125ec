// Turns whatever went wrong in a request into the one error shape of the API,
// { error: { code, message } }, with messages that say what and where.
import type { FastifySchemaValidationError } from "fastify";
import type { SchemaErrorDataVar } from "fastify/types/schema.js";
import { TandemError } from "../../core/errors.js";

/** ajv error fields present because the validator runs with `verbose: true` */
interface VerboseError extends FastifySchemaValidationError {
  data?: unknown;
  parentSchema?: { properties?: Record<string, unknown>; description?: string };
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string '${v.length > 40 ? v.slice(0, 40) + "…" : v}'`;
  return `${typeof v} ${String(v)}`;
}

function where(dataVar: string, instancePath: string): string {
  // /a/0/b → body.a[0].b
  let out = dataVar;
  for (const part of instancePath.split("/").slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return out;
}

/** One readable sentence per schema failure (ajv runs with allErrors off, so usually one). */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const msgs = errors.map((raw) => {
    const e = raw as VerboseError;
    const at = where(dataVar, e.instancePath);
    const p = e.params;
    switch (e.keyword) {
      case "additionalProperties": {
        const allowed = Object.keys(e.parentSchema?.properties ?? {});
        return `${at}: unknown field '${String(p.additionalProperty)}'${allowed.length ? ` (allowed: ${allowed.join(", ")})` : " (this request takes no fields)"}`;
      }
      case "required":
        return `${at}: missing field '${String(p.missingProperty)}'`;
      case "type":
        return `${at}: expected ${String(p.type)}, got ${show(e.data)}`;
      case "enum":
        return `${at}: expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}, got ${show(e.data)}`;
      case "pattern":
      case "format":
        return `${at}: expected ${e.parentSchema?.description ?? `to match ${String(p.pattern ?? p.format)}`}, got ${show(e.data)}`;
      default:
        return `${at}: ${e.message ?? e.keyword}${e.data !== undefined ? `, got ${show(e.data)}` : ""}`;
    }
  });
  return new Error(msgs.join("; "));
}

interface FastifyishError extends Error {
  code?: string;
  statusCode?: number;
  validation?: unknown;
}

/**
 * The TandemError for an error thrown while handling a request, or null when
 * it is an unexpected failure (a bug): the caller answers 500 and logs it.
 */
export function toTandemError(err: unknown, contentType: string | undefined): TandemError | null {
  if (err instanceof TandemError) return err;
  const e = err as FastifyishError;
  if (!e || typeof e !== "object") return null;
  if (e.validation) return new TandemError("TANDEM_ERR_BAD_REQUEST", [e.message]);
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new TandemError("TANDEM_ERR_TOO_LARGE", ["the API accepts at most 64 KiB"]);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new TandemError("TANDEM_ERR_BAD_REQUEST", [`Content-Type must be application/json, got '${contentType ?? "none"}'`]);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new TandemError("TANDEM_ERR_BAD_REQUEST", ["Content-Type is application/json but the body is empty; send {} when there is nothing to say"]);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new TandemError("TANDEM_ERR_BAD_REQUEST", ["body is not valid JSON (the Content-Type says application/json)"]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new TandemError("TANDEM_ERR_BAD_REQUEST", [`body: ${e.message}`]);
  }
  // JSON.parse failures surface as SyntaxError with statusCode 400.
  if (e instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message))) {
    return new TandemError("TANDEM_ERR_BAD_REQUEST", [`body is not valid JSON: ${e.message}`]);
  }
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new TandemError("TANDEM_ERR_TOO_LARGE", [e.message]);
    return new TandemError("TANDEM_ERR_BAD_REQUEST", [e.message]);
  }
  return null;
}
