// What compose.js and settings.js share: building elements without HTML
// strings, JMAP calls with their method errors turned into exceptions,
// the account's mailboxes, e-mail addresses, and the rich-text import
// that keeps only harmless elements.

export const USING = [
  "urn:ietf:params:jmap:core",
  "urn:ietf:params:jmap:mail",
  "urn:ietf:params:jmap:submission",
];
export const USING_SIEVE = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:sieve"];
export const USING_VACATION = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:vacationresponse"];

// h builds an element. attrs: "class", "text" (textContent), "on" ({event:
// fn}), "data" ({test: "x"} → data-test), booleans as properties when the
// element has them, everything else as attributes. Children are nodes or
// strings (text).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

// MethodError is a JMAP method or SetError; type is its RFC type.
export class MethodError extends Error {
  constructor(err) {
    super(err?.description || err?.type || "error");
    this.type = err?.type || "serverFail";
    this.detail = err || {};
  }
}

// call runs method calls and returns their responses by call id; a method
// error becomes a MethodError when it is thrown by pick.
export async function call(ctx, calls, using = USING) {
  const responses = await ctx.api.call(calls, using);
  const byId = {};
  for (const [name, args, id] of responses) {
    if (!(id in byId)) byId[id] = name === "error" ? new MethodError(args) : args;
  }
  return {
    pick(id) {
      const r = byId[id];
      if (r instanceof MethodError) throw r;
      if (r === undefined) throw new MethodError({ type: "serverFail", description: "no response " + id });
      return r;
    },
  };
}

export function accountId(ctx) {
  return ctx.account?.id || ctx.api.accountId;
}

let mailboxCache = null; // {accountId, promise}

// mailboxes returns [{id, name, role, parentId, path}] (path: the full
// name with "/", as Sieve's fileinto names a mailbox). Cached per account.
export function mailboxes(ctx, fresh = false) {
  const acct = accountId(ctx);
  if (!fresh && mailboxCache?.accountId === acct) return mailboxCache.promise;
  const promise = call(ctx, [["Mailbox/get", { accountId: acct, properties: ["name", "role", "parentId"] }, "m"]]).then((r) => {
    const list = r.pick("m").list;
    const byId = new Map(list.map((m) => [m.id, m]));
    const path = (m, depth = 0) => (m.parentId && byId.has(m.parentId) && depth < 50 ? path(byId.get(m.parentId), depth + 1) + "/" : "") + m.name;
    return list.map((m) => ({ ...m, path: path(m) })).sort((a, b) => a.path.localeCompare(b.path));
  });
  promise.catch(() => (mailboxCache = null));
  mailboxCache = { accountId: acct, promise };
  return promise;
}

export function byRole(list, role) {
  return list.find((m) => m.role === role);
}

const EMAIL = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$|^[^\s@<>",;]+@localhost$/i;

export function validEmail(s) {
  return EMAIL.test(s);
}

// parseAddresses reads what a user typed in an address field: "Name
// <a@b>", "a@b", "\"Last, First\" <a@b>", separated by commas or
// semicolons. Each entry is {name, email, ok}.
export function parseAddresses(text) {
  const out = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (const ch of String(text)) {
    if (ch === '"' && !angle) quoted = !quoted;
    else if (ch === "<" && !quoted) angle = true;
    else if (ch === ">" && !quoted) angle = false;
    if ((ch === "," || ch === ";") && !quoted && !angle) {
      out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      const m = /^(.*?)<([^<>]*)>\s*$/.exec(s);
      if (m) {
        const name = m[1].trim().replace(/^"(.*)"$/, "$1").replace(/\\(.)/g, "$1");
        const email = m[2].trim();
        return { name, email, ok: validEmail(email) };
      }
      return { name: "", email: s, ok: validEmail(s) };
    });
}

// formatAddress is one address as a user would type it.
export function formatAddress(a) {
  if (!a?.name) return a?.email || "";
  const name = /[",;<>@()\\]/.test(a.name) ? '"' + a.name.replace(/["\\]/g, "\\$&") + '"' : a.name;
  return `${name} <${a.email}>`;
}

export function formatAddresses(list) {
  return (list || []).map(formatAddress).join(", ");
}

// Rich text: what the editor keeps of pasted HTML, a draft's HTML body or
// an HTML signature. The source is parsed into an inert document
// (DOMParser runs no script and loads nothing) and rebuilt element by
// element from a short list; attributes other than a link's http(s)/mailto
// href are dropped.
const KEEP = new Set(["B", "STRONG", "I", "EM", "U", "A", "UL", "OL", "LI", "BLOCKQUOTE", "P", "DIV", "BR", "SPAN", "PRE", "CODE", "H1", "H2", "H3"]);
const DROP = new Set(["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "NOSCRIPT", "HEAD", "TITLE", "META", "LINK", "FORM", "INPUT", "BUTTON", "SELECT", "TEXTAREA"]);

export function importRich(html, maxNodes = 20000) {
  const doc = new DOMParser().parseFromString(String(html), "text/html");
  const frag = document.createDocumentFragment();
  let budget = maxNodes;
  const walk = (src, dst, depth) => {
    for (const n of src.childNodes) {
      if (--budget < 0 || depth > 40) return;
      if (n.nodeType === Node.TEXT_NODE) {
        dst.append(document.createTextNode(n.data));
      } else if (n.nodeType === Node.ELEMENT_NODE) {
        const tag = n.tagName.toUpperCase();
        if (DROP.has(tag)) continue;
        if (!KEEP.has(tag)) {
          walk(n, dst, depth + 1);
          continue;
        }
        const el = document.createElement(tag);
        if (tag === "A") {
          const href = n.getAttribute("href") || "";
          if (/^(https?:|mailto:)/i.test(href.trim())) el.setAttribute("href", href.trim());
        }
        walk(n, el, depth + 1);
        dst.append(el);
      }
    }
  };
  walk(doc.body, frag, 0);
  return frag;
}

// richToText is the plain-text alternative of the editor's content: blocks
// on their own lines, list items with "- " or "1. ", quotes with "> ",
// links as "text <href>".
export function richToText(root) {
  const lines = [];
  let line = "";
  const flush = () => {
    lines.push(line);
    line = "";
  };
  const walk = (node, prefix) => {
    for (const n of node.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) {
        line += n.data.replace(/\s+/g, " ");
        continue;
      }
      if (n.nodeType !== Node.ELEMENT_NODE) continue;
      const tag = n.tagName;
      if (tag === "BR") {
        flush();
        line = prefix;
      } else if (tag === "BLOCKQUOTE") {
        if (line.trim() !== prefix.trim()) flush();
        line = prefix + "> ";
        walk(n, prefix + "> ");
        if (line.trim() !== (prefix + ">").trim()) flush();
        line = prefix;
      } else if (tag === "LI") {
        if (line.trim() !== prefix.trim()) flush();
        const ordered = n.parentElement?.tagName === "OL";
        const index = ordered ? [...n.parentElement.children].indexOf(n) + 1 + ". " : "- ";
        line = prefix + index;
        walk(n, prefix + "   ");
        flush();
        line = prefix;
      } else if (/^(DIV|P|UL|OL|H[1-3]|PRE)$/.test(tag)) {
        if (line.trim() !== prefix.trim()) flush();
        line = prefix;
        walk(n, prefix);
        if (line.trim() !== prefix.trim()) flush();
        line = prefix;
      } else if (tag === "A") {
        const before = line.length;
        walk(n, prefix);
        const href = n.getAttribute("href");
        const text = line.slice(before).trim();
        if (href && text !== href && "mailto:" + text !== href) line += ` <${href}>`;
      } else {
        walk(n, prefix);
      }
    }
  };
  walk(root, "");
  if (line !== "") flush();
  return lines.map((l) => l.trimEnd()).join("\n").replace(/\n{3,}/g, "\n\n").trim() + "\n";
}

// textToRich turns plain text into editor content (lines and <br>s),
// "> " lines into blockquotes.
export function textToRich(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    if (lines[i].startsWith(">")) {
      const quoted = [];
      while (i < lines.length && lines[i].startsWith(">")) quoted.push(lines[i++].replace(/^> ?/, ""));
      const bq = document.createElement("blockquote");
      bq.append(textToRich(quoted.join("\n")));
      frag.append(bq);
    } else {
      const div = document.createElement("div");
      if (lines[i] === "") div.append(document.createElement("br"));
      else div.textContent = lines[i];
      frag.append(div);
      i++;
    }
  }
  return frag;
}

// htmlToText reads an HTML body value as text, through the inert parser.
export function htmlToText(html) {
  const box = document.createElement("div");
  box.append(importRich(html));
  return richToText(box);
}

const SUGGEST_MAX = 8;

// suggest picks up to SUGGEST_MAX past correspondents whose address or a
// word of whose name starts with query, best score first (list is sorted),
// leaving out the addresses in exclude (lower case).
export function suggest(list, query, exclude = new Set()) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const out = [];
  for (const c of list) {
    if (exclude.has(c.email.toLowerCase())) continue;
    const words = [c.email.toLowerCase(), ...c.name.toLowerCase().split(/\s+/)];
    if (words.some((w) => w.startsWith(q)) || c.name.toLowerCase().startsWith(q)) out.push(c);
    if (out.length >= SUGGEST_MAX) break;
  }
  return out;
}

export function formatSize(n, lang) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return new Intl.NumberFormat(lang, { maximumFractionDigits: i ? 1 : 0 }).format(n) + " " + units[i];
}

let cssAdded = new Set();

// addCSS links a stylesheet of ours once.
export function addCSS(name) {
  if (cssAdded.has(name)) return;
  cssAdded.add(name);
  document.head.append(h("link", { rel: "stylesheet", href: new URL(name + new URL(import.meta.url).search, import.meta.url).href }));
}
