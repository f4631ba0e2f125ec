// Answers the server gives outside the normal request path, in the API's one
// error format { error: { code, message } } with the security headers:
// - fastify's "framework errors" (a URL that is not valid percent-encoding, a
//   path parameter longer than the router takes), which skip the error
//   handler and the onSend hook;
// - node's "clientError" (headers too large, a request too slow, bytes that
//   are not HTTP), answered on the raw socket before any request exists.
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { TandemError } from "../../core/errors.js";
import { HMI_CSP } from "./hmi-files.js";
import { MAX_HEADER_BYTES, MAX_PARAM_LENGTH } from "./limits.js";

/** HSTS when the API is served over TLS: a year; no includeSubDomains (other hosts of the site are not ours to bind). */
export const HSTS_VALUE = "max-age=31536000";

/** The headers every answer carries (the API's also carry cache-control: no-store). */
export function securityHeaders(tls: boolean): [string, string][] {
  const h: [string, string][] = [
    ["x-content-type-options", "nosniff"],
    ["referrer-policy", "no-referrer"],
    ["x-frame-options", "DENY"],
    ["content-security-policy", HMI_CSP],
  ];
  if (tls) h.push(["strict-transport-security", HSTS_VALUE]);
  return h;
}

function shortUrl(url: string | undefined): string {
  const u = (url ?? "").split("?")[0];
  return u.length > 120 ? `${u.slice(0, 120)}…` : u;
}

/** The TandemError for an error fastify raises before routing (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH …). */
export function frameworkError(err: Error & { code?: string }, method: string, url: string | undefined): TandemError {
  switch (err.code) {
    case "FST_ERR_BAD_URL":
      return new TandemError("TANDEM_ERR_BAD_REQUEST", [
        `URL ${shortUrl(url)}: not valid percent-encoding (a '%' must be followed by two hex digits forming UTF-8)`,
      ]);
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new TandemError("TANDEM_ERR_URI_TOO_LONG", [
        `${method} ${shortUrl(url)}: a part of the path is longer than ${MAX_PARAM_LENGTH} characters (tag names are at most 200)`,
      ]);
    default:
      return new TandemError("TANDEM_ERR_BAD_REQUEST", [`${method} ${shortUrl(url)}: ${err.message}`]);
  }
}

/** fastify's `frameworkErrors` option: these replies skip the onSend hook, so the headers are set here. */
export function frameworkErrorsHandler(tls: boolean) {
  return (err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply): void => {
    const te = frameworkError(err, req.method, req.url);
    for (const [k, v] of securityHeaders(tls)) reply.header(k, v);
    reply.header("cache-control", "no-store");
    void reply.code(te.status).type("application/json; charset=utf-8").send(te.toJSON());
  };
}

/** The TandemError for a node 'clientError', or null when there is nobody to answer. */
export function clientError(err: Error & { code?: string }): TandemError {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return new TandemError("TANDEM_ERR_HEADERS_TOO_LARGE", [`the request line and headers exceed ${MAX_HEADER_BYTES / 1024} KiB`]);
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new TandemError("TANDEM_ERR_REQUEST_TIMEOUT", ["the request did not arrive in time; the connection is closed"]);
    default:
      return new TandemError("TANDEM_ERR_BAD_REQUEST", [`not a valid HTTP/1.1 request (${err.code ?? "parse error"}); the connection is closed`]);
  }
}

/** The raw bytes of an answer with a TandemError, closing the connection. */
export function rawErrorResponse(te: TandemError, tls: boolean): string {
  const body = JSON.stringify(te.toJSON());
  const lines = [
    `HTTP/1.1 ${te.status} ${STATUS_CODES[te.status] ?? "Error"}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "cache-control: no-store",
    "connection: close",
    ...securityHeaders(tls).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

interface HttpSocket extends Duplex {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * fastify's `clientErrorHandler` option (node's 'clientError'): answer in
 * the API's format when the socket can still carry an answer, then close it.
 */
export function clientErrorHandler(tls: boolean, onError: (err: Error & { code?: string }, te: TandemError) => void) {
  return (err: Error & { code?: string }, socket: Duplex): void => {
    if (err.code === "ECONNRESET" || socket.destroyed) {
      socket.destroy();
      return;
    }
    const te = clientError(err);
    onError(err, te);
    const s = socket as HttpSocket;
    // an answer already under way on this connection cannot be replaced
    if (socket.writable && !s._httpMessage?.headersSent) socket.end(rawErrorResponse(te, tls));
    // end() flushes the answer; destroy soon after in case the client never reads it
    setTimeout(() => socket.destroy(), 1000).unref();
  };
}
