// Domains: the list, adding (server administrators), and one domain's
// page: catch-all, postmaster, DKIM keys and rotation, the DNS records it
// needs with a live check of what DNS publishes, and deletion with the
// name typed again.

import { t, formatDate } from "./i18n.js";
import { el, button } from "./ui.js";
import { enc } from "./admin-api.js";
import { header, section, table, field, input, errorBox, showError, unavailable, when, confirmTyped, busy, badge, link } from "./admin-ui.js";

export async function domains(ctx, target) {
  const name = ctx.params.get("domain");
  if (name) return domainPage(ctx, target, name);
  const { domains: list } = await ctx.api.get("/domains");
  const rows = table([
    { label: t("admin.domains.name"), value: (d) => link("/admin/domains?domain=" + encodeURIComponent(d.name), d.name, "domain-link") },
    { label: t("admin.domains.catchAll"), value: (d) => d.catch_all || "—" },
    { label: t("admin.domains.postmaster"), value: (d) => d.postmaster || "—" },
    { label: t("admin.created"), value: (d) => formatDate(d.created_at, "date") },
  ], list, { test: "domains", empty: t("admin.domains.empty"), rowTest: (d) => "domain-" + d.name });
  const parts = [header(t("admin.nav.domains")), rows];
  if (ctx.isServer) parts.push(addForm(ctx));
  target.replaceChildren(...parts);
}

function addForm(ctx) {
  const name = input({ name: "domain", "data-test": "domain-new", placeholder: "example.org", required: true });
  const err = errorBox("domain-add-error");
  const submit = el("button", { type: "submit", class: "btn primary", "data-test": "domain-add", text: t("admin.domains.add") });
  const form = el("form", { class: "adm-form adm-inline" }, field(t("admin.domains.newName"), name), submit, err);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        const d = await ctx.api.post("/domains", { name: name.value.trim() });
        ctx.toast(t("admin.domains.added", { name: d.name }));
        ctx.go("/admin/domains?domain=" + encodeURIComponent(d.name));
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  return section(t("admin.domains.addTitle"), form);
}

async function domainPage(ctx, target, name) {
  const path = "/domains/" + enc(name);
  const [d, dkim, dns] = await Promise.all([ctx.api.get(path), ctx.api.get(path + "/dkim"), ctx.api.get(path + "/dns")]);
  const parts = [
    header(d.name,
      link("/admin/accounts?domain=" + encodeURIComponent(d.name), t("admin.nav.accounts"), "domain-accounts"),
      link("/admin/aliases?domain=" + encodeURIComponent(d.name), t("admin.nav.aliases"), "domain-aliases")),
    section(t("admin.domains.routing"),
      addressForm(ctx, path + "/catchall", t("admin.domains.catchAll"), d.catch_all, t("admin.domains.catchAllHint"), "catchall", true),
      addressForm(ctx, path + "/postmaster", t("admin.domains.postmaster"), d.postmaster, t("admin.domains.postmasterHint"), "postmaster", false)),
    dkimSection(ctx, path, dkim.keys),
    dnsSection(ctx, path, dns),
  ];
  if (ctx.isServer) parts.push(deleteSection(ctx, path, d.name));
  target.replaceChildren(...parts);
}

function addressForm(ctx, path, label, value, hint, test, clearable) {
  const box = input({ type: "email", value: value || "", "data-test": test + "-input", placeholder: clearable ? t("admin.domains.none") : "" });
  const err = errorBox(test + "-error");
  const save = el("button", { type: "submit", class: "btn", "data-test": test + "-save", text: t("admin.save") });
  const form = el("form", { class: "adm-form adm-inline" }, field(label, box, hint), save, err);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(save, async () => {
      try {
        await ctx.api.put(path, { address: box.value.trim() });
        showError(err, null);
        ctx.toast(t("admin.saved"));
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  return form;
}

function dkimSection(ctx, path, keys) {
  const err = errorBox("dkim-error");
  const rotate = button({ icon: "i-refresh", label: t("admin.dkim.rotate"), test: "dkim-rotate", onClick: () => busy(rotate, async () => {
    try {
      await ctx.api.post(path + "/dkim/rotate");
      ctx.toast(t("admin.dkim.rotated"));
      ctx.refresh();
    } catch (ex) {
      showError(err, ex);
    }
  }) });
  return section(t("admin.dkim.title"),
    el("p", { class: "adm-note", text: t("admin.dkim.intro") }),
    table([
      { label: t("admin.dkim.selector"), value: (k) => k.selector, cls: "mono" },
      { label: t("admin.dkim.algorithm"), value: (k) => k.algorithm },
      { label: t("admin.dkim.state"), value: (k) => badge(t(k.active ? "admin.dkim.active" : "admin.dkim.retired"), k.active ? "ok" : "off") },
      { label: t("admin.created"), value: (k) => when(k.created_at) },
    ], keys, { test: "dkim-keys" }),
    el("div", { class: "adm-actions" }, rotate), err);
}

// PURPOSES are the kinds of record the admin service lists (admin.DNSPurpose).
const PURPOSES = ["mx", "spf", "dkim", "dmarc", "discovery", "autoconfig", "mta-sts"];

const STATUS_TONE = { ok: "ok", missing: "bad", wrong: "bad", error: "warn" };

function dnsSection(ctx, path, dns) {
  const checkArea = el("div", { class: "adm-dns-check", "data-test": "dns-check" });
  const runCheck = async () => {
    checkArea.replaceChildren(el("p", { class: "loading", text: t("admin.dns.checking") }));
    try {
      const r = await ctx.api.get(path + "/dns/check");
      checkArea.replaceChildren(
        el("p", { class: "adm-note", "data-test": "dns-checked-at", text: t("admin.dns.checkedAt", { time: formatDate(r.checked_at || new Date(), "full") }) }),
        el("p", { class: "adm-ok", "data-test": "dns-summary", text: t("admin.dns.summary", countStatuses(r.records || [])) }),
        table([
          { label: t("admin.dns.type"), value: (x) => x.type, cls: "mono" },
          { label: t("admin.dns.name"), value: (x) => x.name, cls: "mono nowrap" },
          { label: t("admin.dns.status"), value: (x) => badge(t("admin.dns.st." + x.status), STATUS_TONE[x.status] || "warn", "dns-status-" + x.status) },
          { label: t("admin.dns.found"), value: (x) => (x.found && x.found.length ? x.found.join("\n") : "—"), cls: "mono breakall pre" },
          { label: t("admin.dns.fix"), value: (x) => (x.status === "ok" ? "" : x.fix || x.want), cls: "wrap" },
        ], r.records || [], { test: "dns-check-table", rowTest: (x) => "check-" + x.type + "-" + x.status }));
    } catch (ex) {
      // The domain was just read, so a 404 here is an endpoint this server lacks.
      if (ex.status === 404) checkArea.replaceChildren(unavailable("dns-check-unavailable"));
      else checkArea.replaceChildren(el("p", { class: "adm-error", role: "alert", "data-test": "dns-check-error", text: ex.message }));
    }
  };
  const again = button({ icon: "i-refresh", label: t("admin.dns.check"), test: "dns-check-run", onClick: () => busy(again, runCheck) });
  runCheck();
  return section(t("admin.dns.title"),
    el("p", { class: "adm-note", text: t("admin.dns.intro", { host: dns.host }) }),
    table([
      { label: t("admin.dns.purpose"), value: (r) => (PURPOSES.includes(r.purpose) ? t("admin.dns.for." + r.purpose) : r.purpose), cls: "nowrap" },
      { label: t("admin.dns.type"), value: (r) => r.type, cls: "mono" },
      { label: t("admin.dns.name"), value: (r) => r.name, cls: "mono nowrap" },
      { label: t("admin.dns.value"), value: (r) => r.value, cls: "mono breakall" },
    ], dns.records, { test: "dns-records" }),
    el("details", { class: "adm-zone" }, el("summary", { text: t("admin.dns.zone") }), el("pre", { "data-test": "dns-zone", text: dns.zone })),
    el("h3", { text: t("admin.dns.live") }),
    el("div", { class: "adm-actions" }, again),
    checkArea);
}

function countStatuses(records) {
  const n = { ok: 0, missing: 0, wrong: 0, error: 0 };
  for (const r of records) n[r.status in n ? r.status : "error"]++;
  return n;
}

function deleteSection(ctx, path, name) {
  const err = errorBox("domain-delete-error");
  const del = button({ icon: "i-trash", label: t("admin.domains.delete"), cls: "danger", test: "domain-delete", onClick: async () => {
    const typed = await confirmTyped(t("admin.domains.delete"), t("admin.domains.deleteText", { name }), name);
    if (typed === null) return;
    try {
      await ctx.api.del(path, { confirm: typed });
      ctx.toast(t("admin.domains.deleted", { name }));
      ctx.go("/admin/domains");
    } catch (ex) {
      showError(err, ex);
    }
  } });
  return section(t("admin.danger"), el("div", { class: "adm-actions" }, del), err);
}
