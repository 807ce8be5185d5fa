// Building blocks of the admin screens: headings, tables that turn into
// cards on a phone, form fields, the dialogs that ask for a name typed
// again or show a secret once, and the error line that shows the server's
// message as it wrote it.

import { t, formatDate } from "./i18n.js";
import { el, button, dialog } from "./ui.js";

// header is a screen's title row with its actions.
export function header(title, ...actions) {
  return el("div", { class: "adm-head" }, el("h1", { text: title }), el("div", { class: "adm-actions" }, ...actions));
}

export function section(title, ...children) {
  return el("section", { class: "adm-section" }, title ? el("h2", { text: title }) : null, ...children);
}

// table renders rows with columns {label, value(row) -> Node|string, cls};
// each cell carries its column's label for the phone layout.
export function table(columns, rows, { test, empty, rowTest } = {}) {
  if (!rows.length) return el("p", { class: "adm-empty", "data-test": (test || "table") + "-empty", text: empty || t("admin.none") });
  const head = el("tr", null, ...columns.map((c) => el("th", { scope: "col", class: c.cls, text: c.label })));
  const body = rows.map((r) => el("tr", { "data-test": rowTest ? rowTest(r) : undefined },
    ...columns.map((c) => {
      const v = c.value(r);
      return el("td", { class: c.cls, "data-label": c.label }, v === undefined || v === null ? "" : v);
    })));
  return el("div", { class: "adm-table-wrap" }, el("table", { class: "adm-table", "data-test": test }, el("thead", null, head), el("tbody", null, ...body)));
}

// field is a labelled input; hint is a line under it.
export function field(label, input, hint) {
  const id = input.id || "f-" + Math.random().toString(36).slice(2, 9);
  input.id = id;
  return el("div", { class: "adm-field" }, el("label", { for: id, text: label }), input, hint ? el("small", { text: hint }) : null);
}

export function input(attrs) {
  return el("input", Object.assign({ type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "none" }, attrs));
}

// errorLine shows an API error in the server's words (and where a Sieve
// script was refused).
export function errorText(err) {
  if (!err) return "";
  if (err.status === 0 || err instanceof TypeError) return t("admin.networkError");
  let s = err.message;
  // The server's message may start with the place in its own words: say
  // it once, in the reader's language.
  if (err.line) s = t("admin.sieve.at", { line: err.line, column: err.column || 1 }) + " " + s.replace(/^line \d+, column \d+:\s*/i, "");
  return s;
}

export function errorBox(test) {
  return el("p", { class: "adm-error", role: "alert", "data-test": test || "error", hidden: true });
}

export function showError(box, err) {
  box.textContent = errorText(err);
  box.hidden = !err;
}

// unavailable is what a screen shows for an endpoint this server does not
// have (404 from an older or partial build).
export function unavailable(test) {
  return el("p", { class: "adm-note", "data-test": test || "unavailable", text: t("admin.unavailable") });
}

export function when(d) {
  if (!d) return t("admin.never");
  return el("time", { datetime: d, title: formatDate(d, "full"), text: formatDate(d, "full") });
}

// confirmTyped asks for name typed again before a deletion and returns
// what was typed (null when cancelled): the server compares, and its
// refusal is shown in its words.
export async function confirmTyped(title, text, name) {
  const box = input({ "data-test": "confirm-name", "aria-label": t("admin.typeName", { name }) });
  const body = el("div", { class: "adm-confirm" }, el("p", { text }), field(t("admin.typeName", { name }), box));
  const r = await dialog({ title, body, test: "confirm-typed", buttons: [
    { label: t("core.cancel"), value: "cancel" },
    { label: t("admin.delete"), value: "ok", primary: true, cls: "danger", submit: true, test: "confirm-ok" },
  ] });
  return r === "ok" ? box.value.trim() : null;
}

// confirmDelete asks before a deletion that needs no name typed again;
// true when confirmed.
export async function confirmDelete(title, text, okLabel) {
  const r = await dialog({ title, body: el("p", { text }), test: "confirm", buttons: [
    { label: t("core.cancel"), value: "cancel" },
    { label: okLabel || t("admin.delete"), value: "ok", primary: true, cls: "danger", submit: true, test: "confirm-ok" },
  ] });
  return r === "ok";
}

// showSecret shows a password or token that the server will not show
// again.
export async function showSecret(title, text, secret) {
  const box = el("input", { type: "text", readOnly: true, value: secret, class: "adm-secret", "data-test": "secret", "aria-label": title });
  const copy = button({ icon: "i-read", label: t("admin.copy"), test: "secret-copy", onClick: async () => {
    box.select();
    try {
      await navigator.clipboard.writeText(secret);
      copy.querySelector(".btn-label").textContent = t("admin.copied");
    } catch (e) { /* selected for a manual copy */ }
  } });
  const body = el("div", { class: "adm-confirm" }, el("p", { text }), el("div", { class: "adm-row" }, box, copy));
  await dialog({ title, body, test: "secret-dialog", buttons: [{ label: t("admin.done"), value: "ok", primary: true, submit: true, test: "secret-done" }] });
}

// busy disables a button while fn runs.
export async function busy(btn, fn) {
  btn.disabled = true;
  try {
    return await fn();
  } finally {
    btn.disabled = false;
  }
}

// badge is a small coloured word: ok, warn, bad, off.
export function badge(text, tone, test) {
  return el("span", { class: "adm-badge " + (tone || ""), "data-test": test, text });
}

export function link(href, text, test) {
  return el("a", { href, "data-test": test, text });
}

// domainPicker is a select of the caller's domains that navigates.
export async function domainPicker(ctx, page, current) {
  const { domains } = await ctx.api.get("/domains");
  const names = domains.map((d) => d.name);
  const chosen = names.includes(current) ? current : names[0] || "";
  const sel = el("select", { "data-test": "domain-picker", "aria-label": t("admin.domains.name") },
    ...names.map((n) => el("option", { value: n, text: n })));
  sel.value = chosen;
  sel.addEventListener("change", () => ctx.go(`/admin/${page}?domain=` + encodeURIComponent(sel.value)));
  return { sel, chosen, names };
}
