// The admin API client: the session cookie authenticates, and every
// request that changes something carries the CSRF token the login (or
// GET /admin/api/session) answered. Errors keep the server's own words.

export class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || "HTTP " + status);
    this.status = status;
    this.kind = body && body.kind;
    this.line = body && body.line;
    this.column = body && body.column;
    this.body = body || {};
  }
}

export class AdminAPI {
  constructor({ csrf, onUnauthorized }) {
    this.csrf = csrf;
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  // call sends one request; body is JSON unless it is a string (sent as
  // contentType). It resolves to the decoded answer (null for 204) and
  // rejects with an APIError that holds the server's message.
  async call(method, path, body, { contentType, okStatuses } = {}) {
    const headers = {};
    if (method !== "GET") headers["X-CSRF-Token"] = this.csrf;
    let payload;
    if (body !== undefined) {
      if (typeof body === "string") {
        headers["Content-Type"] = contentType || "text/plain";
        payload = body;
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
    }
    const resp = await fetch("/admin/api" + path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    let data = null;
    if (resp.status !== 204) {
      const text = await resp.text();
      try {
        data = text ? JSON.parse(text) : null;
      } catch (e) {
        data = { error: text.trim() || "HTTP " + resp.status };
      }
    }
    if (resp.ok || (okStatuses && okStatuses.includes(resp.status))) return data;
    if (resp.status === 401 && path !== "/login") this.onUnauthorized();
    throw new APIError(resp.status, data);
  }

  get(path) { return this.call("GET", path); }
  post(path, body) { return this.call("POST", path, body === undefined ? undefined : body); }
  put(path, body) { return this.call("PUT", path, body); }
  del(path, body) { return this.call("DELETE", path, body); }
}

// enc encodes one path segment (an address keeps its @ readable).
export function enc(s) {
  return encodeURIComponent(s).replace(/%40/g, "@");
}
