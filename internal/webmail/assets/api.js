// The JMAP client of the webmail: the session cookie authenticates, and
// every request that changes something carries the CSRF token the server
// derived from it. A 401 from anywhere means the session is gone.

export const USING = [
  "urn:ietf:params:jmap:core",
  "urn:ietf:params:jmap:mail",
  "urn:ietf:params:jmap:submission",
  "urn:ietf:params:jmap:vacationresponse",
  "urn:ietf:params:jmap:sieve",
  "urn:ietf:params:jmap:quota",
];

export class HTTPError extends Error {
  constructor(status, message) {
    super(message || "HTTP " + status);
    this.status = status;
  }
}

// MethodError is a JMAP method-level error ["error", {type, description}].
export class MethodError extends Error {
  constructor(args) {
    super(args.description || args.type);
    this.type = args.type;
    this.args = args;
  }
}

export class API {
  constructor({ csrf, accountId, username, onUnauthorized }) {
    this.csrf = csrf;
    this.accountId = accountId;
    this.username = username;
    this.onUnauthorized = onUnauthorized || (() => {});
    this.session = null;
    this.active = 0;
    this.waiting = [];
  }

  // slot keeps us within the server's maxConcurrentRequests (one is left
  // for the push connection); release must be called when done.
  async slot() {
    const max = Math.max(1, (this.capability("urn:ietf:params:jmap:core").maxConcurrentRequests || 4) - 1);
    if (this.active >= max) await new Promise((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  release() {
    this.active--;
    const next = this.waiting.shift();
    if (next) next();
  }

  headers(extra) {
    return Object.assign({ "X-CSRF-Token": this.csrf }, extra || {});
  }

  async checked(resp) {
    if (resp.status === 401) {
      this.onUnauthorized();
      throw new HTTPError(401, "unauthorized");
    }
    if (!resp.ok) {
      let msg = "";
      try {
        const body = await resp.json();
        msg = body.error || body.detail || body.title || "";
      } catch (e) { /* not JSON */ }
      throw new HTTPError(resp.status, msg);
    }
    return resp;
  }

  // fetchJSON is for the webmail's own endpoints (/webmail/...).
  async fetchJSON(path, { method = "GET", body } = {}) {
    const init = { method, credentials: "same-origin", headers: this.headers() };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const resp = await this.checked(await fetch(path, init));
    const text = await resp.text();
    return text ? JSON.parse(text) : null;
  }

  async loadSession() {
    const resp = await this.checked(await fetch("/jmap/session", { credentials: "same-origin", headers: this.headers() }));
    this.session = await resp.json();
    // The webmail talks to its own origin (the cookie and the CSP are
    // per origin), whatever host name the server put in the URLs.
    for (const k of ["apiUrl", "downloadUrl", "uploadUrl", "eventSourceUrl"]) {
      if (typeof this.session[k] === "string") this.session[k] = this.session[k].replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, "");
    }
    const primary = this.session.primaryAccounts || {};
    this.accountId = primary["urn:ietf:params:jmap:mail"] || this.accountId;
    return this.session;
  }

  capability(name) {
    return (this.session && this.session.capabilities[name]) || {};
  }

  get maxObjectsInGet() { return this.capability("urn:ietf:params:jmap:core").maxObjectsInGet || 500; }
  get maxObjectsInSet() { return this.capability("urn:ietf:params:jmap:core").maxObjectsInSet || 500; }

  // call sends method calls ([name, args, callId] triples) and returns the
  // methodResponses. The accountId is filled in where a call has none.
  async call(methodCalls, using) {
    const calls = methodCalls.map(([name, args, id], i) => [name, Object.assign({ accountId: this.accountId }, args), id || String(i)]);
    const url = (this.session && this.session.apiUrl) || "/jmap/api";
    const body = JSON.stringify({ using: using || USING, methodCalls: calls });
    for (let attempt = 0; ; attempt++) {
      await this.slot();
      let resp;
      try {
        resp = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: this.headers({ "Content-Type": "application/json" }),
          body,
        });
      } finally {
        this.release();
      }
      if (resp.status === 429 && attempt < 3) {
        const wait = Math.min(parseInt(resp.headers.get("Retry-After") || "1", 10) || 1, 5);
        await new Promise((r) => setTimeout(r, wait * 1000 * (attempt + 1) / 2));
        continue;
      }
      await this.checked(resp);
      return (await resp.json()).methodResponses;
    }
  }

  // one calls a single method and returns its arguments, throwing a
  // MethodError when the server answers "error".
  async one(name, args, using) {
    const [[resName, resArgs]] = await this.call([[name, args, "0"]], using);
    if (resName === "error") throw new MethodError(resArgs);
    return resArgs;
  }

  get(type, ids, properties, extra) {
    return this.one(type + "/get", Object.assign({ ids, properties }, extra || {}));
  }

  query(type, args) {
    return this.one(type + "/query", args || {});
  }

  set(type, args) {
    return this.one(type + "/set", args || {});
  }

  // upload sends a blob to the upload URL with XHR, so that progress can be
  // shown; it resolves to {blobId, size, type}.
  upload(blob, { onProgress } = {}) {
    const tmpl = (this.session && this.session.uploadUrl) || "/jmap/upload/{accountId}/";
    const url = tmpl.replace("{accountId}", encodeURIComponent(this.accountId));
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.withCredentials = true;
      xhr.setRequestHeader("X-CSRF-Token", this.csrf);
      xhr.setRequestHeader("Content-Type", blob.type || "application/octet-stream");
      if (onProgress) {
        xhr.upload.addEventListener("progress", (e) => {
          if (e.lengthComputable) onProgress(e.loaded, e.total);
        });
      }
      xhr.addEventListener("load", () => {
        if (xhr.status === 401) {
          this.onUnauthorized();
          reject(new HTTPError(401, "unauthorized"));
          return;
        }
        if (xhr.status < 200 || xhr.status >= 300) {
          reject(new HTTPError(xhr.status, xhr.statusText));
          return;
        }
        try {
          const r = JSON.parse(xhr.responseText);
          resolve({ blobId: r.blobId, size: r.size, type: r.type });
        } catch (e) {
          reject(e);
        }
      });
      xhr.addEventListener("error", () => reject(new HTTPError(0, "network error")));
      xhr.addEventListener("abort", () => reject(new HTTPError(0, "aborted")));
      xhr.send(blob);
    });
  }

  downloadURL(blobId, name, type) {
    const tmpl = (this.session && this.session.downloadUrl) || "/jmap/download/{accountId}/{blobId}/{name}?accept={type}";
    return tmpl
      .replace("{accountId}", encodeURIComponent(this.accountId))
      .replace("{blobId}", encodeURIComponent(blobId))
      .replace("{name}", encodeURIComponent(name || "download"))
      .replace("{type}", encodeURIComponent(type || "application/octet-stream"));
  }

  eventSourceURL(types) {
    const tmpl = (this.session && this.session.eventSourceUrl) || "/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}";
    return tmpl.replace("{types}", encodeURIComponent(types || "*")).replace("{closeafter}", "no").replace("{ping}", "60");
  }
}
