// The audit log (who changed what, from where), API tokens (a new one is
// shown once) and the login throttle (who is refused now, and unblocking).

import { t, formatDate, formatNumber } from "./i18n.js";
import { el, button } from "./ui.js";
import { header, section, table, field, input, errorBox, showError, when, showSecret, busy, link } from "./admin-ui.js";

export async function audit(ctx, target) {
  const keys = ["actor", "action", "target"];
  const p = new URLSearchParams();
  for (const k of [...keys, "before"]) if (ctx.params.get(k)) p.set(k, ctx.params.get(k));
  const res = await ctx.api.get("/audit" + (p.size ? "?" + p : ""));
  const boxes = Object.fromEntries(keys.map((k) => [k, input({ name: k, value: ctx.params.get(k) || "", "data-test": "audit-" + k })]));
  const form = el("form", { class: "adm-form adm-inline adm-filters" }, ...keys.map((k) => field(t("admin.audit." + k), boxes[k])),
    el("button", { type: "submit", class: "btn", "data-test": "audit-filter", text: t("admin.filter") }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of keys) if (boxes[k].value.trim()) q.set(k, boxes[k].value.trim());
    ctx.go("/admin/audit" + (q.size ? "?" + q : ""));
  });
  const parts = [header(t("admin.nav.audit")), el("p", { class: "adm-note", text: t("admin.audit.intro") }), form,
    table([
      { label: t("admin.audit.at"), value: (a) => formatDate(a.at, "full") },
      { label: t("admin.audit.actor"), value: (a) => a.actor + (a.remote ? " (" + a.remote + ")" : ""), cls: "wrap" },
      { label: t("admin.audit.action"), value: (a) => a.action, cls: "mono" },
      { label: t("admin.audit.target"), value: (a) => a.target, cls: "wrap" },
      { label: t("admin.audit.details"), value: (a) => a.details || "", cls: "wrap" },
    ], res.entries, { test: "audit", empty: t("admin.audit.empty"), rowTest: (a) => "audit-" + a.action })];
  if (res.next) {
    const more = new URLSearchParams(p);
    more.set("before", res.next);
    parts.push(el("div", { class: "adm-actions" }, link("/admin/audit?" + more, t("admin.older"), "audit-older")));
  }
  target.replaceChildren(...parts);
}

export async function tokens(ctx, target) {
  const { tokens: list } = await ctx.api.get("/tokens");
  const err = errorBox("token-error");
  const name = input({ name: "token-name", "data-test": "token-name", required: true, placeholder: t("admin.tokens.namePlaceholder") });
  const submit = el("button", { type: "submit", class: "btn primary", "data-test": "token-create", text: t("admin.tokens.create") });
  const form = el("form", { class: "adm-form adm-inline" }, field(t("admin.tokens.name"), name), submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        const tok = await ctx.api.post("/tokens", { name: name.value.trim() });
        await showSecret(t("admin.tokens.created"), t("admin.tokens.once"), tok.token);
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  target.replaceChildren(header(t("admin.nav.tokens")), el("p", { class: "adm-note", text: t("admin.tokens.intro") }),
    table([
      { label: t("admin.tokens.name"), value: (k) => k.name },
      { label: t("admin.created"), value: (k) => when(k.created_at) },
      { label: t("admin.tokens.lastUsed"), value: (k) => when(k.last_used) },
      { label: "", value: (k) => button({ icon: "i-trash", label: t("admin.revoke"), test: "token-revoke", onClick: async () => {
        try {
          await ctx.api.del("/tokens/" + k.id);
          ctx.toast(t("admin.revoked"));
          ctx.refresh();
        } catch (ex) {
          showError(err, ex);
        }
      } }) },
    ], list, { test: "tokens", empty: t("admin.tokens.empty"), rowTest: (k) => "token-" + k.name }),
    err, section(t("admin.tokens.new"), form));
}

export async function logins(ctx, target) {
  const { throttled } = await ctx.api.get("/auth/throttled");
  const err = errorBox("unblock-error");
  const unblock = async (what) => {
    try {
      const r = await ctx.api.post("/auth/unblock", { target: what });
      ctx.toast(t("admin.logins.cleared", { count: r.cleared, target: what }));
      ctx.refresh();
    } catch (ex) {
      showError(err, ex);
    }
  };
  const box = input({ "data-test": "unblock-target", required: true, placeholder: "192.0.2.7 / ann@example.org / admin:root" });
  const submit = el("button", { type: "submit", class: "btn", "data-test": "unblock-submit", text: t("admin.logins.unblock") });
  const form = el("form", { class: "adm-form adm-inline" }, field(t("admin.logins.target"), box, t("admin.logins.targetHint")), submit);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, () => unblock(box.value.trim()));
  });
  target.replaceChildren(header(t("admin.nav.logins")), el("p", { class: "adm-note", text: t("admin.logins.intro") }),
    table([
      { label: t("admin.logins.source"), value: (x) => x.source, cls: "mono" },
      { label: t("admin.logins.account"), value: (x) => x.account || t("admin.logins.any") },
      { label: t("admin.logins.failures"), value: (x) => formatNumber(x.failures) },
      { label: t("admin.logins.until"), value: (x) => formatDate(x.until, "full") },
      { label: "", value: (x) => button({ label: t("admin.logins.unblock"), test: "unblock", onClick: () => unblock(x.account || x.source) }) },
    ], throttled, { test: "throttled", empty: t("admin.logins.empty") }),
    err, section(t("admin.logins.manual"), form));
}
