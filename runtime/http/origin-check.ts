// Cross-site request forgery, whatever the login method. A browser keeps HTTP
// Basic credentials after a 401 challenge and sends cookies with requests a
// page on another site makes, so every request that changes something must
// show that it did not come from another site's page:
//
// 1. where it comes from: an `Origin` header naming this very server, or
//    `Sec-Fetch-Site: same-origin | none` (the browser says so), or the
//    client header (`X-Tandem-Client`), which a page on another site cannot
//    add without a CORS preflight this server never approves. A request with
//    none of them (curl, scripts) passes this step: browsers send `Origin` on
//    every cross-site POST/PUT/DELETE.
// 2. what it carries: `Content-Type: application/json`, even with an empty
//    body. A page on another site can send a form or a "simple" fetch
//    (text/plain, form encodings, no body) without a preflight, but not JSON.
//
// Pure functions of the request's headers: the server calls them before any
// login is checked, so a forged request costs no password check.

/** The client header (server.ts says what the HMI's value does); any value passes the origin check. */
export const HMI_HEADER = "x-tandem-client";

/** Methods that change nothing (the API serves no state change on them). */
export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

export interface RequestHeaders {
  origin?: string;
  host?: string;
  "sec-fetch-site"?: string;
  "content-type"?: string;
  [name: string]: string | string[] | undefined;
}

/** Why the request looks cross-site, or null when it passes. `protocol` is the server's (http or https). */
export function crossSiteReason(headers: RequestHeaders, protocol: string, clientHeader: string): string | null {
  const client = headers[clientHeader];
  if (typeof client === "string" && client.length > 0) return null;
  const origin = headers.origin;
  if (origin !== undefined) {
    const own = ownOrigin(headers.host, protocol);
    if (own === null || normalOrigin(origin) !== own) {
      return `it comes from a page of another site (Origin ${clip(origin)}, this server is ${own ?? "unknown"}); use the HMI of this node, or send the header ${clientHeader} from scripts`;
    }
  }
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    return `the browser says it comes from another site (Sec-Fetch-Site: ${clip(site)}); use the HMI of this node`;
  }
  return null;
}

/** Why the content type is not JSON, or null when it is. */
export function notJsonReason(contentType: string | undefined): string | null {
  const media = contentType?.split(";")[0]?.trim().toLowerCase();
  if (media === "application/json") return null;
  return `a request that changes something must say Content-Type: application/json, even with no body (got ${contentType === undefined ? "none" : `'${clip(contentType)}'`}); with curl: -H 'Content-Type: application/json' -d '{}'`;
}

/** Whether the request has no body at all (fastify then parses nothing). */
export function hasNoBody(headers: { "content-length"?: string; "transfer-encoding"?: string }): boolean {
  return headers["transfer-encoding"] === undefined && (headers["content-length"] === undefined || headers["content-length"] === "0");
}

function ownOrigin(host: string | undefined, protocol: string): string | null {
  if (!host) return null;
  try {
    return new URL(`${protocol}://${host}`).origin;
  } catch {
    return null;
  }
}

function normalOrigin(origin: string): string | null {
  if (origin === "null") return null;
  try {
    return new URL(origin).origin;
  } catch {
    return null;
  }
}

function clip(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, "?");
  return t.length > 80 ? `${t.slice(0, 80)}…` : t;
}
