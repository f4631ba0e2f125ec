// The CLI's way to an HTTPS node: a fetch-shaped call on node:https that
// trusts the CA certificates it is given (the site CA, or a node's own
// self-signed certificate) instead of only the system's. Certificates are
// always checked; there is no "insecure" switch. A failed check is explained
// in words an operator can act on (tlsTrustHint).
import { request } from "node:https";

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<Response>;

/** A fetch for https:// URLs that trusts `ca` (PEM; the system's CAs when undefined). */
export function httpsFetch(ca: string | undefined): FetchLike {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: init.method, headers: init.headers, signal: init.signal, ...(ca !== undefined ? { ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new TypeError("fetch failed", { cause: e })));
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue;
            for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
        });
      });
      req.on("error", (e) => reject(e.name === "AbortError" ? e : new TypeError("fetch failed", { cause: e })));
      if (init.body !== undefined) req.end(init.body);
      else req.end();
    });
}

/** TLS failures that mean "this certificate is not one we trust". */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

/**
 * What to do about a failed connection to `base`, when it is a TLS problem;
 * null otherwise. `code` is the error's code (node's TLS or socket codes).
 */
export function tlsTrustHint(code: string | undefined, base: string, caGiven: boolean): string | null {
  if (code === undefined) return null;
  const https = base.startsWith("https:");
  if (https && UNTRUSTED.has(code)) {
    return caGiven
      ? "the node's certificate is not signed by the CA given with --ca (or TANDEM_CA); give the CA that issued it, or the node's own certificate if it is self-signed"
      : "the node's certificate is not trusted: give --ca FILE (or TANDEM_CA) with the site CA's certificate, or with the node's own self-signed certificate (its data dir's tls/cert.pem; compare the SHA-256 fingerprint in the node's log); on the node itself, --config FILE finds it";
  }
  if (https && code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return "the node's certificate is not issued for the host name in the URL: use a --node URL with a name the certificate lists (the node logs them at start), or add the name to http.tls.names (self-signed) or to the certificate";
  }
  if (https && (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID")) {
    return "the node's certificate is outside its validity dates: check the clocks of both machines, then renew the certificate";
  }
  if (https && (code === "EPROTO" || code === "ERR_SSL_WRONG_VERSION_NUMBER")) return "the node does not seem to speak HTTPS on this port: try http://";
  if (!https && (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "HPE_INVALID_CONSTANT")) return "if the node serves HTTPS (http.tls.enabled), use an https:// URL";
  return null;
}
