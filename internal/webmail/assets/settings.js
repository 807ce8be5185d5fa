// The settings view (/settings/{page}): identities and signatures,
// vacation reply, filters (filters.js), password, app passwords,
// setting up devices (the Apple profile), language. JMAP for what JMAP has (Identity, VacationResponse,
// SieveScript); the webmail's own endpoints for passwords.

import { h, call, accountId, addCSS, MethodError, USING_VACATION } from "./compose-common.js";

export const PAGES = ["identities", "vacation", "filters", "password", "app-passwords", "devices", "language"];

export function mount(el, ctx) {
  addCSS("compose.css");
  const page = PAGES.includes(ctx.page) ? ctx.page : PAGES[0];
  const body = h("section", { class: "settings-page", "aria-labelledby": "settings-page-title" });
  const nav = h("nav", { class: "settings-nav", data: { test: "settings-nav" }, "aria-label": ctx.t("settings.title") },
    h("ul", {}, PAGES.map((p) => h("li", {}, h("a", {
      href: "/settings/" + p, data: { test: "settings-link", page: p }, "aria-current": p === page ? "page" : null,
      text: ctx.t("settings.nav." + p),
      on: { click: (e) => { if (e.button === 0 && !e.metaKey && !e.ctrlKey) { e.preventDefault(); ctx.navigate("/settings/" + p); } } },
    })))));
  el.replaceChildren(h("div", { class: "settings" }, h("h1", { text: ctx.t("settings.title") }), h("div", { class: "settings-layout" }, nav, body)));
  const state = { closed: false, cleanups: [] };
  body.append(h("h2", { id: "settings-page-title", text: ctx.t("settings.nav." + page) }));
  const pages = { identities, vacation, filters, password, "app-passwords": appPasswords, devices, language };
  Promise.resolve(pages[page](body, ctx, state)).catch((err) => {
    if (state.closed) return;
    console.error(err);
    body.append(errorLine(ctx, err));
  });
  return {
    unmount() {
      state.closed = true;
      for (const f of state.cleanups) f();
      el.replaceChildren();
    },
  };
}

function errorLine(ctx, err) {
  const text = err instanceof MethodError ? ctx.t("settings.error.server", { type: err.type, description: err.message }) : ctx.t("settings.error.load");
  return h("p", { class: "st-error", role: "alert", text });
}

// statusLine is a live region that says what a save did.
function statusLine() {
  const el = h("p", { class: "st-muted", role: "status", "aria-live": "polite" });
  el.say = (text, kind = "ok") => {
    el.textContent = text;
    el.className = kind === "ok" ? "st-ok" : kind === "error" ? "st-error" : "st-muted";
  };
  return el;
}

function field(label, input, hint) {
  return h("label", { class: "st-field" }, h("span", { text: label }), input, hint ? h("span", { class: "st-hint", text: hint }) : null);
}

// --- identities ------------------------------------------------------------

async function identities(body, ctx, state) {
  const t = ctx.t;
  const acct = accountId(ctx);
  const list = h("div", { class: "settings-identities" });
  body.append(h("p", { class: "st-hint", text: t("settings.identities.intro") }), list);
  const load = async () => {
    const r = await call(ctx, [["Identity/get", { accountId: acct }, "i"]]);
    if (state.closed) return;
    list.replaceChildren(...r.pick("i").list.map((id) => identityCard(ctx, acct, id, load)));
  };
  await load();
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", autocomplete: "name" });
  const status = statusLine();
  const add = h("form", { class: "st-card", data: { test: "identity-add" }, on: { submit: async (e) => {
    e.preventDefault();
    try {
      const r = await call(ctx, [["Identity/set", { accountId: acct, create: { n: { email: email.value.trim(), name: name.value.trim() } } }, "s"]]);
      const res = r.pick("s");
      if (!res.created?.n) return status.say(setErrorText(ctx, res.notCreated?.n, "identities"), "error");
      email.value = name.value = "";
      status.say(t("settings.saved"));
      ctx.notify?.("settings.saved");
      await load();
    } catch (err) {
      status.say(errorText(ctx, err), "error");
    }
  } } },
  h("h3", { text: t("settings.identities.add") }),
  field(t("settings.identities.email"), email, t("settings.identities.emailHint")),
  field(t("settings.identities.name"), name),
  h("div", { class: "st-row" }, h("button", { type: "submit", class: "st-primary", text: t("settings.identities.addButton") })), status);
  body.append(add);
}

function identityCard(ctx, acct, id, reload) {
  const t = ctx.t;
  const name = h("input", { type: "text", value: id.name || "", autocomplete: "off" });
  const replyTo = h("input", { type: "text", value: (id.replyTo || []).map((a) => a.email).join(", "), autocomplete: "off" });
  const sig = h("textarea", { rows: "4", data: { test: "identity-signature" } });
  sig.value = id.textSignature || "";
  const status = statusLine();
  const save = async (e) => {
    e.preventDefault();
    const replyList = replyTo.value.split(/[,;]\s*/).map((s) => s.trim()).filter(Boolean).map((email) => ({ name: null, email }));
    const patch = { name: name.value.trim(), textSignature: sig.value, replyTo: replyList.length ? replyList : null };
    // An HTML signature (set by another client) would no longer match the
    // text one, which is the only one edited here.
    if (sig.value !== (id.textSignature || "")) patch.htmlSignature = "";
    try {
      const r = await call(ctx, [["Identity/set", { accountId: acct, update: { [id.id]: patch } }, "s"]]);
      const res = r.pick("s");
      if (res.notUpdated?.[id.id]) return status.say(setErrorText(ctx, res.notUpdated[id.id], "identities"), "error");
      status.say(t("settings.saved"));
      ctx.notify?.("settings.saved");
    } catch (err) {
      status.say(errorText(ctx, err), "error");
    }
  };
  const remove = async () => {
    if (!confirm(t("settings.identities.confirmDelete", { email: id.email }))) return;
    try {
      const r = await call(ctx, [["Identity/set", { accountId: acct, destroy: [id.id] }, "s"]]);
      const res = r.pick("s");
      if (res.notDestroyed?.[id.id]) return status.say(setErrorText(ctx, res.notDestroyed[id.id], "identities"), "error");
      await reload();
    } catch (err) {
      status.say(errorText(ctx, err), "error");
    }
  };
  return h("form", { class: "st-card", data: { test: "identity", id: id.id }, on: { submit: save } },
    h("h3", { text: id.email }),
    field(t("settings.identities.name"), name),
    field(t("settings.identities.replyTo"), replyTo, t("settings.identities.replyToHint")),
    field(t("settings.identities.signature"), sig, t("settings.identities.signatureHint")),
    h("div", { class: "st-row" },
      h("button", { type: "submit", class: "st-primary", data: { test: "identity-save" }, text: t("settings.save") }),
      id.mayDelete ? h("button", { type: "button", class: "st-danger", text: t("settings.identities.delete"), on: { click: remove } }) : null),
    status);
}

function errorText(ctx, err) {
  return err instanceof MethodError ? ctx.t("settings.error.server", { type: err.type, description: err.message }) : ctx.t("settings.error.network");
}

// setErrorText words a SetError; known types have their own text.
function setErrorText(ctx, se, page) {
  const type = se?.type || "serverFail";
  const key = `settings.${page}.error.${type}`;
  const text = ctx.t(key, { description: se?.description || "" });
  return text && text !== key ? text : ctx.t("settings.error.server", { type, description: se?.description || "" });
}

// --- vacation --------------------------------------------------------------

// UTCDate ⇄ the value of an <input type=datetime-local> in local time.
function toLocalInput(utc) {
  if (!utc) return "";
  const d = new Date(utc);
  if (isNaN(d)) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(v) {
  if (!v) return null;
  const d = new Date(v);
  return isNaN(d) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function vacation(body, ctx, state) {
  const t = ctx.t;
  const acct = accountId(ctx);
  const r = await call(ctx, [["VacationResponse/get", { accountId: acct, ids: ["singleton"] }, "v"]], USING_VACATION);
  if (state.closed) return;
  const v = r.pick("v").list[0] || {};
  const enabled = h("input", { type: "checkbox", checked: !!v.isEnabled, data: { test: "vacation-enabled" } });
  const from = h("input", { type: "datetime-local", value: toLocalInput(v.fromDate), data: { test: "vacation-from" } });
  const to = h("input", { type: "datetime-local", value: toLocalInput(v.toDate), data: { test: "vacation-to" } });
  const subject = h("input", { type: "text", value: v.subject || "", maxlength: "998", data: { test: "vacation-subject" } });
  const text = h("textarea", { rows: "8", data: { test: "vacation-body" } });
  text.value = v.textBody || "";
  const status = statusLine();
  const form = h("form", { class: "st-card", data: { test: "vacation-form" }, on: { submit: async (e) => {
    e.preventDefault();
    const fromDate = fromLocalInput(from.value);
    const toDate = fromLocalInput(to.value);
    if (fromDate && toDate && toDate <= fromDate) return status.say(t("settings.vacation.badDates"), "error");
    if (enabled.checked && !text.value.trim()) return status.say(t("settings.vacation.noText"), "error");
    const patch = { isEnabled: enabled.checked, fromDate, toDate, subject: subject.value.trim() || null, textBody: text.value || null, htmlBody: null };
    try {
      const r = await call(ctx, [["VacationResponse/set", { accountId: acct, update: { singleton: patch } }, "s"]], USING_VACATION);
      const res = r.pick("s");
      if (res.notUpdated?.singleton) return status.say(setErrorText(ctx, res.notUpdated.singleton, "vacation"), "error");
      status.say(t("settings.saved"));
      ctx.notify?.("settings.saved");
    } catch (err) {
      status.say(errorText(ctx, err), "error");
    }
  } } },
  h("label", { class: "st-check" }, enabled, h("span", { text: t("settings.vacation.enabled") })),
  h("div", { class: "st-row" }, field(t("settings.vacation.from"), from), field(t("settings.vacation.to"), to)),
  h("p", { class: "st-hint", text: t("settings.vacation.datesHint") }),
  field(t("settings.vacation.subject"), subject, t("settings.vacation.subjectHint")),
  field(t("settings.vacation.body"), text),
  h("div", { class: "st-row" }, h("button", { type: "submit", class: "st-primary", data: { test: "vacation-save" }, text: t("settings.save") })),
  status);
  body.append(h("p", { class: "st-hint", text: t("settings.vacation.intro") }), form);
}

// --- filters ---------------------------------------------------------------

async function filters(body, ctx, state) {
  const { mountFilters } = await import("./filters.js");
  if (!state.closed) await mountFilters(body, ctx, state);
}

// --- password and app passwords (the webmail's own endpoints) --------------

let csrfToken = null;

async function csrf(ctx) {
  const known = csrfToken || ctx.csrf || ctx.api?.csrf;
  if (known) return known;
  const res = await fetch("/webmail/session", { credentials: "same-origin" });
  if (!res.ok) throw new Error("session " + res.status);
  csrfToken = (await res.json()).csrf;
  return csrfToken;
}

// webmailFetch calls a /webmail/ endpoint with JSON; it returns the JSON
// answer or throws an Error with .status and .message from {"error"}.
async function webmailFetch(ctx, method, path, data) {
  if (ctx.api?.fetchJSON) return ctx.api.fetchJSON(path, { method, body: data });
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = await csrf(ctx);
  if (data !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: data === undefined ? undefined : JSON.stringify(data) });
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = new Error(json?.error || res.statusText);
    err.status = res.status;
    throw err;
  }
  return json;
}

function password(body, ctx) {
  const t = ctx.t;
  const current = h("input", { type: "password", autocomplete: "current-password", required: true, data: { test: "password-current" } });
  const next = h("input", { type: "password", autocomplete: "new-password", required: true, data: { test: "password-new" } });
  const again = h("input", { type: "password", autocomplete: "new-password", required: true, data: { test: "password-again" } });
  const status = statusLine();
  const submit = h("button", { type: "submit", class: "st-primary", data: { test: "password-save" }, text: t("settings.password.change") });
  const form = h("form", { class: "st-card", data: { test: "password-form" }, on: { submit: async (e) => {
    e.preventDefault();
    if (next.value !== again.value) return status.say(t("settings.password.mismatch"), "error");
    if (next.value.length < 8) return status.say(t("settings.password.tooShort", { count: 8 }), "error");
    submit.disabled = true;
    try {
      const r = await webmailFetch(ctx, "POST", "/webmail/password", { current: current.value, new: next.value });
      // The server starts a new session: its CSRF token replaces the old.
      if (r?.csrf) {
        csrfToken = r.csrf;
        if (ctx.api) ctx.api.csrf = r.csrf;
      }
      current.value = next.value = again.value = "";
      status.say(t("settings.password.changed"));
      ctx.notify?.("settings.password.changed");
    } catch (err) {
      status.say(err.status === 429 ? t("settings.error.throttled") : err.status === 401 || err.status === 403 ? t("settings.password.wrong") : t("settings.error.message", { message: err.message }), "error");
    } finally {
      submit.disabled = false;
    }
  } } },
  // A username field for password managers (hidden, read-only).
  h("input", { type: "text", autocomplete: "username", value: ctx.account?.username || "", readonly: true, hidden: true, "aria-hidden": "true", tabindex: "-1" }),
  field(t("settings.password.current"), current),
  field(t("settings.password.new"), next, t("settings.password.hint")),
  field(t("settings.password.again"), again),
  h("div", { class: "st-row" }, submit), status);
  body.append(form);
}

async function appPasswords(body, ctx, state) {
  const t = ctx.t;
  const date = (s) => (s ? new Intl.DateTimeFormat(ctx.lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(s)) : t("settings.appPasswords.never"));
  const table = h("tbody");
  const empty = h("p", { class: "st-muted", text: t("settings.appPasswords.none") });
  const status = statusLine();
  const load = async () => {
    const list = (await webmailFetch(ctx, "GET", "/webmail/app-passwords")) || [];
    if (state.closed) return;
    empty.hidden = list.length > 0;
    table.replaceChildren(...list.map((p) => h("tr", { data: { test: "app-password", id: String(p.id) } },
      h("td", { text: p.name }), h("td", { text: date(p.created) }), h("td", { text: date(p.lastUsed) }),
      h("td", {}, h("button", { type: "button", class: "st-danger", data: { test: "app-password-revoke" }, "aria-label": t("settings.appPasswords.revokeNamed", { name: p.name }), text: t("settings.appPasswords.revoke"),
        on: { click: async () => {
          if (!confirm(t("settings.appPasswords.confirmRevoke", { name: p.name }))) return;
          try {
            await webmailFetch(ctx, "DELETE", "/webmail/app-passwords/" + encodeURIComponent(p.id));
            status.say(t("settings.appPasswords.revoked", { name: p.name }));
            await load();
          } catch (err) {
            status.say(t("settings.error.message", { message: err.message }), "error");
          }
        } } })))));
  };
  const name = h("input", { type: "text", required: true, maxlength: "100", autocomplete: "off", data: { test: "app-password-name" } });
  const shown = h("div", { class: "st-card", hidden: true, role: "status" });
  const form = h("form", { class: "st-card", on: { submit: async (e) => {
    e.preventDefault();
    if (!name.value.trim()) return;
    try {
      const r = await webmailFetch(ctx, "POST", "/webmail/app-passwords", { name: name.value.trim() });
      name.value = "";
      // The secret is shown once, here, and kept nowhere else.
      const secret = h("code", { class: "st-secret", data: { test: "app-password-new" }, text: r.password });
      const copy = h("button", { type: "button", text: t("settings.appPasswords.copy"), on: { click: () => navigator.clipboard?.writeText(r.password).then(() => (copy.textContent = t("settings.appPasswords.copied"))) } });
      shown.replaceChildren(h("p", { text: t("settings.appPasswords.created", { name: r.name }) }), secret,
        h("p", { class: "st-hint", text: t("settings.appPasswords.once") }),
        h("div", { class: "st-row" }, copy, h("button", { type: "button", text: t("settings.appPasswords.done"), on: { click: () => { shown.hidden = true; shown.replaceChildren(); } } })));
      shown.hidden = false;
      status.say("");
      await load();
    } catch (err) {
      status.say(t("settings.error.message", { message: err.message }), "error");
    }
  } } },
  h("h3", { text: t("settings.appPasswords.new") }),
  field(t("settings.appPasswords.name"), name, t("settings.appPasswords.nameHint")),
  h("div", { class: "st-row" }, h("button", { type: "submit", class: "st-primary", data: { test: "app-password-create" }, text: t("settings.appPasswords.create") })));
  body.append(h("p", { class: "st-hint", text: t("settings.appPasswords.intro") }), form, shown, status,
    h("table", {}, h("thead", {}, h("tr", {}, ["name", "created", "lastUsed", "actions"].map((k) => h("th", { scope: "col", text: t("settings.appPasswords.col." + k) })))), table), empty);
  await load();
}

// --- devices ---------------------------------------------------------------

// devices offers the Apple configuration profile of the account
// (GET /webmail/mobileconfig, a download behind the session cookie).
function devices(body, ctx) {
  const t = ctx.t;
  const address = ctx.account?.username || "";
  body.append(
    h("div", { class: "st-card", data: { test: "devices-apple" } },
      h("h3", { text: t("settings.devices.apple.title") }),
      h("p", { text: t("settings.devices.apple.intro") }),
      h("div", { class: "st-row" }, h("a", {
        class: "st-download st-primary", href: "/webmail/mobileconfig", download: "", data: { test: "mobileconfig-link" },
        text: t("settings.devices.apple.download", { address }),
      })),
      h("p", { class: "st-hint", text: t("settings.devices.apple.password") })),
    h("div", { class: "st-card" },
      h("h3", { text: t("settings.devices.other.title") }),
      h("p", { text: t("settings.devices.other.intro") })));
}

// --- language --------------------------------------------------------------

async function language(body, ctx) {
  const t = ctx.t;
  const select = h("select", { id: "settings-lang", data: { test: "settings-lang" } },
    h("option", { value: "en", text: "English" }), h("option", { value: "zh-CN", text: "简体中文" }));
  select.value = ctx.lang === "zh-CN" ? "zh-CN" : "en";
  const status = statusLine();
  select.addEventListener("change", async () => {
    try {
      const i18n = await import("./i18n.js");
      // The frame redraws on the "langchange" event, this page too.
      await i18n.setLang(select.value);
    } catch (err) {
      status.say(t("settings.error.message", { message: err.message }), "error");
    }
  });
  body.append(h("div", { class: "st-card" }, h("label", { class: "st-field", for: "settings-lang" }, h("span", { text: t("settings.language.label") }), select),
    h("p", { class: "st-hint", text: t("settings.language.hint") }), status));
}
