// The search box: a query language of "from: to: subject: has:attachment
// before: after: in:" and free text, turned into a JMAP Email filter; and
// SearchSnippet highlights turned into DOM nodes.

import { el } from "./ui.js";
import { t } from "./i18n.js";

// tokenize splits on spaces, keeping "quoted phrases" and key:"quoted".
export function tokenize(q) {
  const out = [];
  const re = /(\S+?:)?"([^"]*)"?|\S+/g;
  let m;
  while ((m = re.exec(q)) !== null) {
    if (m[2] !== undefined) out.push((m[1] || "") + "\u0000" + m[2]);
    else out.push(m[0]);
  }
  return out;
}

function parseDate(v) {
  const m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(v);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return isNaN(d) ? null : d;
}

// parseSearch returns {filter, mailboxId, errors}. findMailbox maps an in:
// name to a mailbox id.
export function parseSearch(q, findMailbox) {
  const conds = [];
  const text = [];
  let mailboxId = null;
  const errors = [];
  for (const raw of tokenize(q || "")) {
    const quoted = raw.includes("\u0000");
    const tok = raw.replace("\u0000", "");
    const m = /^([a-zA-Z]+):(.*)$/.exec(tok);
    if (!m || (quoted && raw.indexOf("\u0000") === 0)) {
      if (tok) text.push(tok);
      continue;
    }
    const key = m[1].toLowerCase();
    const val = m[2];
    switch (key) {
      case "from": case "to": case "cc": case "bcc": case "subject": case "body":
        if (val) conds.push({ [key]: val });
        break;
      case "has":
        if (/^attachments?$/i.test(val)) conds.push({ hasAttachment: true });
        else errors.push(tok);
        break;
      case "is":
        if (/^unread$/i.test(val)) conds.push({ notKeyword: "$seen" });
        else if (/^read$/i.test(val)) conds.push({ hasKeyword: "$seen" });
        else if (/^(flagged|starred)$/i.test(val)) conds.push({ hasKeyword: "$flagged" });
        else errors.push(tok);
        break;
      case "before": case "after": {
        const d = parseDate(val);
        if (!d) {
          errors.push(tok);
          break;
        }
        conds.push({ [key]: d.toISOString().replace(/\.\d{3}Z$/, "Z") });
        break;
      }
      case "in": {
        const id = findMailbox ? findMailbox(val) : null;
        if (id) mailboxId = id;
        else errors.push(tok);
        break;
      }
      default:
        text.push(tok);
    }
  }
  if (text.length) conds.push({ text: text.join(" ") });
  if (mailboxId) conds.push({ inMailbox: mailboxId });
  let filter = null;
  if (conds.length === 1) filter = conds[0];
  else if (conds.length > 1) filter = { operator: "AND", conditions: conds };
  return { filter, mailboxId, errors };
}

// snippetNodes turns SearchSnippet HTML (escaped text with <mark> tags)
// into text and <mark> nodes without ever parsing it as HTML.
export function snippetNodes(html) {
  const out = [];
  const parts = String(html).split(/(<mark>|<\/mark>)/);
  let inMark = false;
  for (const p of parts) {
    if (p === "<mark>") {
      inMark = true;
      continue;
    }
    if (p === "</mark>") {
      inMark = false;
      continue;
    }
    if (!p) continue;
    const text = unescapeHTML(p);
    out.push(inMark ? el("mark", { text }) : document.createTextNode(text));
  }
  return out;
}

function unescapeHTML(s) {
  return s.replace(/&(lt|gt|amp|quot|#39|#x27|apos);/g, (m, e) => ({ lt: "<", gt: ">", amp: "&", quot: '"', "#39": "'", "#x27": "'", apos: "'" })[e]);
}

// SearchBox is the form in the top bar.
export class SearchBox {
  constructor(app) {
    this.app = app;
    this.input = el("input", { type: "search", class: "search-input", "data-test": "search-input", name: "q", autocomplete: "off", enterkeyhint: "search" });
    this.form = el("form", { class: "search", role: "search" }, this.input);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      const q = this.input.value.trim();
      if (q) this.app.navigate("/search?q=" + encodeURIComponent(q));
      this.input.blur();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        this.input.value = "";
        this.input.blur();
      }
    });
    this.labels();
  }

  labels() {
    this.input.placeholder = t("core.searchPlaceholder");
    this.input.setAttribute("aria-label", t("core.search"));
    this.input.title = t("core.searchHelp");
  }

  focus() {
    this.input.focus();
    this.input.select();
  }
}
