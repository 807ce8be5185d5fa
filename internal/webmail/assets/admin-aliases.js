// Aliases and forwards of a domain, and Sieve scripts: the global ones
// that run before and after every account's, and an account's own (shown
// on its page). A refused script shows the server's message with its line
// and column, and the cursor is put there.

import { t, formatSize } from "./i18n.js";
import { el, button } from "./ui.js";
import { enc } from "./admin-api.js";
import { header, section, table, field, input, errorBox, showError, when, busy, badge, domainPicker, confirmDelete } from "./admin-ui.js";

export async function aliases(ctx, target) {
  const { sel, chosen } = await domainPicker(ctx, "aliases", ctx.params.get("domain"));
  if (!chosen) {
    target.replaceChildren(header(t("admin.nav.aliases")), el("p", { class: "adm-empty", text: t("admin.domains.empty") }));
    return;
  }
  const { aliases: list } = await ctx.api.get("/domains/" + enc(chosen) + "/aliases");
  const err = errorBox("alias-error");
  const rows = table([
    { label: t("admin.alias.source"), value: (a) => a.source, cls: "mono" },
    { label: t("admin.alias.destinations"), value: (a) => el("span", { class: "wrap" }, ...a.destinations.map((d) => el("span", { class: "adm-chip", text: d }))) },
    { label: t("admin.alias.kind"), value: (a) => badge(t(a.destinations.some((d) => !d.endsWith("@" + chosen)) ? "admin.alias.forward" : "admin.alias.local")) },
    { label: "", value: (a) => button({ icon: "i-trash", label: t("admin.delete"), test: "alias-delete", onClick: async () => {
      if (!(await confirmDelete(t("admin.alias.delete"), t("admin.alias.deleteText", { source: a.source }), t("admin.delete")))) return;
      try {
        await ctx.api.del("/aliases/" + enc(a.source));
        ctx.toast(t("admin.alias.deleted", { source: a.source }));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    } }) },
  ], list, { test: "aliases", empty: t("admin.alias.empty"), rowTest: (a) => "alias-" + a.source });
  target.replaceChildren(header(t("admin.nav.aliases"), sel), el("p", { class: "adm-note", text: t("admin.alias.intro") }), rows, err, addForm(ctx, chosen));
}

function addForm(ctx, domain) {
  const local = input({ "data-test": "alias-new", required: true, placeholder: t("admin.alias.localHint") });
  const dests = el("textarea", { rows: 2, "data-test": "alias-destinations", required: true, spellcheck: "false", placeholder: "ann@" + domain + ", ann@example.net" });
  const err = errorBox("alias-add-error");
  const submit = el("button", { type: "submit", class: "btn primary", "data-test": "alias-add", text: t("admin.alias.add") });
  const form = el("form", { class: "adm-form" },
    field(t("admin.alias.source"), el("span", { class: "adm-addr" }, local, el("span", { text: "@" + domain }))),
    field(t("admin.alias.destinations"), dests, t("admin.alias.destHint")), el("div", { class: "adm-actions" }, submit), err);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, async () => {
      try {
        const source = local.value.trim() + "@" + domain;
        await ctx.api.post("/aliases", { source, destinations: dests.value.split(/[\s,;]+/).filter(Boolean) });
        ctx.toast(t("admin.alias.added", { source }));
        ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    });
  });
  return section(t("admin.alias.addTitle"), form);
}

// sieve is the Sieve screen: global scripts for a server administrator,
// and a way to an account's scripts for everyone.
export async function sieve(ctx, target) {
  const parts = [header(t("admin.nav.sieve"))];
  if (ctx.isServer) {
    const globals = [];
    for (const which of ["before", "after"]) {
      // No global script yet is a 404: an empty editor.
      const r = await ctx.api.get("/sieve/global/" + which).catch((e) => {
        if (e.status === 404) return { script: "" };
        throw e;
      });
      globals.push({ which, size: new TextEncoder().encode(r.script || "").length });
      parts.push(section(t("admin.sieve.global." + which), el("p", { class: "adm-note", text: t("admin.sieve.globalIntro." + which) }),
        editor(ctx, { source: r.script, test: "global-" + which,
          store: async (text) => {
            await ctx.api.put("/sieve/global/" + which, { script: text });
            ctx.refresh();
          },
          // Nothing to remove while no script is set.
          clear: r.script ? async () => {
            await ctx.api.del("/sieve/global/" + which);
            ctx.refresh();
          } : null })));
    }
    parts.splice(1, 0, section(t("admin.sieve.globalTitle"), table([
      { label: t("admin.sieve.which"), value: (g) => t("admin.sieve.globalName." + g.which) },
      { label: t("admin.sieve.state"), value: (g) => badge(t(g.size ? "admin.sieve.inUse" : "admin.sieve.unset"), g.size ? "ok" : "off") },
      { label: t("admin.sieve.size"), value: (g) => (g.size ? formatSize(g.size) : "—") },
    ], globals, { test: "global-scripts", rowTest: (g) => "global-" + g.which + (g.size ? "-set" : "-unset") })));
  }
  const addr = input({ type: "email", "data-test": "sieve-account", required: true, placeholder: "ann@example.org" });
  const form = el("form", { class: "adm-form adm-inline" }, field(t("admin.acct.address"), addr),
    el("button", { type: "submit", class: "btn", text: t("admin.sieve.open") }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ctx.go("/admin/accounts?address=" + encodeURIComponent(addr.value.trim()));
  });
  parts.push(section(t("admin.sieve.accountTitle"), el("p", { class: "adm-note", text: t("admin.sieve.accountIntro") }), form));
  target.replaceChildren(...parts);
}

// editor edits one script: store(text) saves it, clear (when given)
// removes it; a refusal shows where the compiler stopped.
function editor(ctx, { source, test, store, clear }) {
  const area = el("textarea", { class: "mono adm-code", rows: 10, spellcheck: "false", "data-test": test + "-script" });
  area.value = source || "";
  const err = errorBox(test + "-error");
  const save = button({ label: t("admin.save"), cls: "primary", test: test + "-save", onClick: () => busy(save, async () => {
    try {
      await store(area.value);
      showError(err, null);
      ctx.toast(t("admin.saved"));
    } catch (ex) {
      showError(err, ex);
      if (ex.line) placeCursor(area, ex.line, ex.column || 1);
    }
  }) });
  const actions = el("div", { class: "adm-actions" }, save);
  if (clear) {
    actions.append(button({ icon: "i-trash", label: t("admin.sieve.clear"), test: test + "-clear", onClick: async () => {
      try {
        await clear();
        area.value = "";
        ctx.toast(t("admin.saved"));
      } catch (ex) {
        showError(err, ex);
      }
    } }));
  }
  return el("div", { class: "adm-editor" }, area, actions, err);
}

function placeCursor(area, line, column) {
  const lines = area.value.split("\n");
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) pos += lines[i].length + 1;
  pos += Math.max(0, column - 1);
  area.focus();
  area.setSelectionRange(pos, pos);
}

// accountSieve lists an account's scripts with their actions and an
// editor for a new or chosen one.
export async function accountSieve(ctx, address) {
  const base = "/accounts/" + enc(address) + "/sieve";
  const { scripts } = await ctx.api.get(base);
  const err = errorBox("sieve-list-error");
  const holder = el("div", { class: "adm-editor-holder" });
  const act = async (fn) => {
    try {
      await fn();
      ctx.refresh();
    } catch (ex) {
      showError(err, ex);
    }
  };
  const open = async (name, src) => {
    const nameBox = input({ value: name || "", "data-test": "sieve-name", required: true, placeholder: t("admin.sieve.name") });
    const ed = editor(ctx, { source: src, test: "sieve", store: async (text) => {
      await ctx.api.put(base + "/" + enc(nameBox.value.trim()), { script: text });
      ctx.refresh();
    } });
    holder.replaceChildren(field(t("admin.sieve.name"), nameBox), ed);
  };
  const list = table([
    { label: t("admin.sieve.name"), value: (s) => s.name, cls: "mono" },
    { label: t("admin.sieve.state"), value: (s) => badge(t(s.active ? "admin.sieve.active" : "admin.sieve.inactive"), s.active ? "ok" : "off") },
    { label: t("admin.sieve.size"), value: (s) => formatSize(s.size) },
    { label: t("admin.sieve.updated"), value: (s) => when(s.updated_at) },
    { label: "", value: (s) => el("div", { class: "adm-row" },
      button({ icon: "i-edit", label: t("admin.sieve.edit"), iconOnly: true, test: "sieve-edit", onClick: async () => {
        const r = await ctx.api.get(base + "/" + enc(s.name));
        open(s.name, r.script);
      } }),
      s.active
        ? button({ label: t("admin.sieve.deactivate"), test: "sieve-deactivate", onClick: () => act(() => ctx.api.post(base + "/deactivate")) })
        : button({ label: t("admin.sieve.activate"), test: "sieve-activate", onClick: () => act(() => ctx.api.post(base + "/" + enc(s.name) + "/activate")) }),
      button({ icon: "i-trash", label: t("admin.delete"), iconOnly: true, test: "sieve-delete", onClick: () => act(() => ctx.api.del(base + "/" + enc(s.name))) })) },
  ], scripts, { test: "sieve-scripts", empty: t("admin.sieve.none") });
  const add = button({ icon: "i-plus", label: t("admin.sieve.new"), test: "sieve-new", onClick: () => open("", 'require ["fileinto"];\n') });
  return el("div", null, list, el("div", { class: "adm-actions" }, add), err, holder);
}
