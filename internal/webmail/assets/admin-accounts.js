// Accounts: a domain's list with storage used, adding one, the CSV import
// with its dry run, and one account's page: quota, disable/enable,
// password reset, app passwords, last login per protocol, Sieve scripts
// and deletion with the address typed again.

import { t, formatDate, formatSize, formatNumber } from "./i18n.js";
import { el, button } from "./ui.js";
import { enc } from "./admin-api.js";
import { header, section, table, field, input, errorBox, showError, unavailable, when, confirmTyped, showSecret, busy, badge, link, domainPicker } from "./admin-ui.js";
import { accountSieve } from "./admin-aliases.js";

export const PROTOCOLS = ["imap", "pop3", "smtp", "jmap", "webmail", "managesieve"];

export async function accounts(ctx, target) {
  const address = ctx.params.get("address");
  if (address) return accountPage(ctx, target, address);
  const { sel, chosen } = await domainPicker(ctx, "accounts", ctx.params.get("domain"));
  if (!chosen) {
    target.replaceChildren(header(t("admin.nav.accounts")), el("p", { class: "adm-empty", text: t("admin.domains.empty") }));
    return;
  }
  const { accounts: list } = await ctx.api.get("/domains/" + enc(chosen) + "/accounts");
  target.replaceChildren(
    header(t("admin.nav.accounts"), sel),
    table([
      { label: t("admin.acct.address"), value: (a) => link("/admin/accounts?address=" + encodeURIComponent(a.address), a.address, "account-link") },
      { label: t("admin.acct.state"), value: (a) => badge(t(a.disabled ? "admin.acct.disabled" : "admin.acct.enabled"), a.disabled ? "off" : "ok") },
      { label: t("admin.acct.used"), value: (a) => usage(a) },
      { label: t("admin.acct.lastLogin"), value: (a) => lastLoginShort(a) },
    ], list, { test: "accounts", empty: t("admin.acct.empty"), rowTest: (a) => "account-" + a.address }),
    addForm(ctx, chosen),
    importForm(ctx, chosen));
}

function usage(a) {
  const size = a.quota_bytes ? t("admin.acct.ofQuota", { used: formatSize(a.used_bytes), quota: formatSize(a.quota_bytes) }) : formatSize(a.used_bytes);
  return size + " · " + t("admin.acct.messages", { count: a.used_messages });
}

function lastLoginShort(a) {
  const ll = a.last_login || {};
  let best = null;
  for (const p of PROTOCOLS) if (ll[p] && (!best || ll[p] > ll[best])) best = p;
  return best ? t("admin.acct.lastVia", { time: formatDate(ll[best], "list"), protocol: t("admin.proto." + best) }) : t("admin.never");
}

function addForm(ctx, domain) {
  const local = input({ name: "local", "data-test": "account-new", required: true, placeholder: t("admin.acct.localPart") });
  const pass = el("input", { type: "password", name: "new-password", autocomplete: "new-password", "data-test": "account-new-password" });
  const err = errorBox("account-add-error");
  const submit = el("button", { type: "submit", class: "btn primary", "data-test": "account-add", text: t("admin.acct.add") });
  const form = el("form", { class: "adm-form adm-inline" },
    field(t("admin.acct.address"), el("span", { class: "adm-addr" }, local, el("span", { text: "@" + domain })), null),
    field(t("admin.acct.password"), pass, t("admin.acct.passwordHint")), submit, err);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        const r = await ctx.api.post("/accounts", { address: local.value.trim() + "@" + domain, password: pass.value });
        if (r.password) await showSecret(t("admin.acct.created"), t("admin.acct.generated", { address: r.account.address }), r.password);
        ctx.toast(t("admin.acct.added", { address: r.account.address }));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  return section(t("admin.acct.addTitle"), form);
}

function importForm(ctx, domain) {
  const text = el("textarea", { rows: 6, class: "mono", "data-test": "import-csv", spellcheck: "false",
    placeholder: "address,password,quota,name\nann@" + domain + ",s3cret-passphrase,1G,Ann Lee" });
  const file = el("input", { type: "file", accept: ".csv,text/csv", "data-test": "import-file" });
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = await file.files[0].text();
  });
  const result = el("div", { "data-test": "import-result" });
  const run = async (dry) => {
    try {
      const r = await ctx.api.call("POST", "/accounts/import" + (dry ? "?dry_run=1" : ""), text.value, { contentType: "text/csv", okStatuses: [422] });
      const errors = r.errors || [];
      const created = r.created || [];
      const parts = [el("p", { class: errors.length ? "adm-error" : "adm-ok", "data-test": "import-summary",
        text: errors.length ? t("admin.import.errors", { count: errors.length }) : t(dry ? "admin.import.wouldCreate" : "admin.import.created", { count: created.length }) })];
      if (errors.length) {
        parts.push(table([
          { label: t("admin.import.line"), value: (x) => formatNumber(x.line) },
          { label: t("admin.acct.address"), value: (x) => x.address || "" },
          { label: t("admin.import.message"), value: (x) => x.message },
        ], errors, { test: "import-errors" }));
      } else if (created.length) {
        parts.push(el("ul", { class: "adm-list" }, ...created.map((a) => el("li", { text: a }))));
      }
      result.replaceChildren(...parts);
      if (!dry && !errors.length) ctx.toast(t("admin.import.created", { count: created.length }));
    } catch (ex) {
      result.replaceChildren(ex.status === 404 ? unavailable("import-unavailable") : el("p", { class: "adm-error", role: "alert", text: ex.message }));
    }
  };
  const dry = button({ label: t("admin.import.dryRun"), test: "import-dry", onClick: () => busy(dry, () => run(true)) });
  const go = button({ label: t("admin.import.run"), cls: "primary", test: "import-run", onClick: () => busy(go, () => run(false)) });
  return el("details", { class: "adm-section adm-details" }, el("summary", { text: t("admin.import.title") }),
    el("div", { class: "adm-form" }, el("p", { class: "adm-note", text: t("admin.import.intro") }), text, file,
      el("div", { class: "adm-actions" }, dry, go), result));
}

async function accountPage(ctx, target, address) {
  const path = "/accounts/" + enc(address);
  const [a, apps] = await Promise.all([ctx.api.get(path), ctx.api.get(path + "/app-passwords")]);
  const domain = a.address.split("@")[1];
  target.replaceChildren(
    header(a.address, link("/admin/accounts?domain=" + encodeURIComponent(domain), t("admin.acct.backToList"), "account-back")),
    section(t("admin.acct.overview"), overview(a)),
    section(t("admin.acct.lastLogins"), lastLogins(a)),
    section(t("admin.acct.quota"), quotaForm(ctx, path, a)),
    section(t("admin.acct.access"), accessButtons(ctx, path, a)),
    section(t("admin.acct.appPasswords"), appPasswords(ctx, path, apps.app_passwords)),
    section(t("admin.acct.sieve"), await accountSieve(ctx, a.address)),
    section(t("admin.danger"), deleteButton(ctx, path, a.address)));
}

function overview(a) {
  return el("dl", { class: "adm-facts", "data-test": "account-facts" },
    el("dt", { text: t("admin.acct.state") }), el("dd", null, badge(t(a.disabled ? "admin.acct.disabled" : "admin.acct.enabled"), a.disabled ? "off" : "ok", "account-state")),
    el("dt", { text: t("admin.acct.used") }), el("dd", { "data-test": "account-usage", text: usage(a) }),
    el("dt", { text: t("admin.created") }), el("dd", null, when(a.created_at)));
}

function lastLogins(a) {
  const ll = a.last_login;
  if (ll === undefined) return unavailable("last-login-unavailable");
  return el("dl", { class: "adm-facts", "data-test": "last-logins" }, ...PROTOCOLS.flatMap((p) => [
    el("dt", { text: t("admin.proto." + p) }), el("dd", { "data-test": "last-login-" + p }, ll[p] ? when(ll[p]) : t("admin.never"))]));
}

function quotaForm(ctx, path, a) {
  const size = input({ value: quotaText(a.quota_bytes), "data-test": "quota-size", placeholder: t("admin.acct.unlimited") });
  const msgs = input({ value: a.quota_messages ? String(a.quota_messages) : "", inputmode: "numeric", "data-test": "quota-messages", placeholder: t("admin.acct.unlimited") });
  const err = errorBox("quota-error");
  const save = el("button", { type: "submit", class: "btn", "data-test": "quota-save", text: t("admin.save") });
  const form = el("form", { class: "adm-form adm-inline" }, field(t("admin.acct.quotaSize"), size, t("admin.acct.quotaSizeHint")),
    field(t("admin.acct.quotaMessages"), msgs), save, err);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      try {
        await ctx.api.put(path + "/quota", { size: size.value.trim(), messages: msgs.value.trim() });
        ctx.toast(t("admin.saved"));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  return form;
}

// quotaText writes a byte count the way the quota field reads it back: a
// single letter is a power of 1024 ("10M"), as admin.ParseQuota takes it.
export function quotaText(bytes) {
  if (!bytes) return "";
  for (const [unit, n] of [["T", 2 ** 40], ["G", 2 ** 30], ["M", 2 ** 20], ["K", 2 ** 10]]) {
    if (bytes % n === 0) return bytes / n + unit;
  }
  return String(bytes);
}

function accessButtons(ctx, path, a) {
  const err = errorBox("access-error");
  const toggle = button({ label: t(a.disabled ? "admin.acct.enable" : "admin.acct.disable"), test: a.disabled ? "account-enable" : "account-disable",
    onClick: () => busy(toggle, async () => {
      try {
        await ctx.api.post(path + (a.disabled ? "/enable" : "/disable"));
        ctx.toast(t(a.disabled ? "admin.acct.enabledNow" : "admin.acct.disabledNow"));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    }) });
  const reset = button({ label: t("admin.acct.resetPassword"), test: "account-reset", onClick: () => busy(reset, async () => {
    try {
      const r = await ctx.api.post(path + "/password", {});
      await showSecret(t("admin.acct.resetPassword"), t("admin.acct.generated", { address: a.address }), r.password);
    } catch (ex) {
      showError(err, ex);
    }
  }) });
  return el("div", { class: "adm-form" }, el("p", { class: "adm-note", text: t("admin.acct.accessIntro") }), el("div", { class: "adm-actions" }, toggle, reset), err);
}

function appPasswords(ctx, path, list) {
  const err = errorBox("app-password-error");
  return el("div", null, table([
    { label: t("admin.acct.appName"), value: (p) => p.name },
    { label: t("admin.created"), value: (p) => when(p.created_at) },
    { label: t("admin.acct.lastUsed"), value: (p) => when(p.last_used) },
    { label: "", value: (p) => button({ icon: "i-trash", label: t("admin.revoke"), test: "app-password-revoke", onClick: async () => {
      try {
        await ctx.api.del(path + "/app-passwords/" + enc(p.name));
        ctx.toast(t("admin.revoked"));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    } }) },
  ], list, { test: "app-passwords", empty: t("admin.acct.noAppPasswords") }), err);
}

function deleteButton(ctx, path, address) {
  const err = errorBox("account-delete-error");
  const del = button({ icon: "i-trash", label: t("admin.acct.delete"), cls: "danger", test: "account-delete", onClick: async () => {
    const typed = await confirmTyped(t("admin.acct.delete"), t("admin.acct.deleteText", { address }), address);
    if (typed === null) return;
    try {
      await ctx.api.del(path, { confirm: typed });
      ctx.toast(t("admin.acct.deleted", { address }));
      ctx.go("/admin/accounts?domain=" + encodeURIComponent(address.split("@")[1]));
    } catch (ex) {
      showError(err, ex);
    }
  } });
  return el("div", null, el("div", { class: "adm-actions" }, del), err);
}
