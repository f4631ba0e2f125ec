// The HMI's call to the node's API, shared by every page (index.html and
// site.html load it before their own scripts; plain scripts with no module
// loader share these globals): the session cookie, X-Tandem-Client: hmi (no
// browser Basic dialog; needed for cookie actions), JSON both ways, and an
// ApiError that carries the status, the code and a message for people.
"use strict";

const API = "/api/v1";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { "X-Tandem-Client": "hmi", Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
  // the node takes a change only as JSON, even with nothing to say
  if (body === undefined && method !== "GET") body = {};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, "NETWORK", "Cannot reach this node. Check the network or whether the Tandem service is running.");
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : { code: "HTTP_" + res.status, message: "The node answered " + res.status + " " + res.statusText };
    throw new ApiError(res.status, err.code, plainMessage(err));
  }
  return data;
}

// The API's messages are meant for people; drop the catalogue prefixes that
// only make sense in a log ("request: ", "login required: ").
function plainMessage(err) {
  let m = String(err.message || err.code || "Unknown error");
  m = m.replace(/^(request|login required|internal error|node unavailable|refused): /, "");
  return m.charAt(0).toUpperCase() + m.slice(1);
}
