// The filters page of the settings: a rule editor for the common cases
// (sieve-rules.js writes and reads its script) and the raw Sieve script
// with the server's check (SieveScript/validate). The editor's script is
// the account's script named SCRIPT_NAME, made active when saved; a
// script the editor did not write is shown raw and kept until the user
// chooses to replace it with rules.

import { h, call, accountId, mailboxes, MethodError, USING_SIEVE } from "./compose-common.js";
import { writeScript, readScript, validateRules, newRule, FIELDS, OPS, ACTIONS, MAX_RULES } from "./sieve-rules.js";

export const SCRIPT_NAME = "webmail";

async function loadScripts(ctx) {
  const r = await call(ctx, [["SieveScript/get", { accountId: accountId(ctx), properties: ["name", "blobId", "isActive"] }, "g"]], USING_SIEVE);
  return r.pick("g").list;
}

async function scriptText(ctx, script) {
  const url = ctx.api.downloadURL(script.blobId, script.name + ".sieve", "application/sieve");
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) throw new Error("download " + res.status);
  return res.text();
}

async function uploadScript(ctx, text) {
  const r = await ctx.api.upload(new Blob([text], { type: "application/sieve" }), {});
  return r.blobId;
}

// sieveError words an invalidSieve SetError; line and column come from the
// compiler's "line L, column C: message".
export function sieveErrorParts(se) {
  const m = /line (\d+), column (\d+): ([\s\S]*)$/.exec(se?.description || "");
  return m ? { line: +m[1], column: +m[2], message: m[3] } : { line: 0, column: 0, message: se?.description || se?.type || "" };
}

export async function mountFilters(body, ctx, state) {
  const t = ctx.t;
  const acct = accountId(ctx);
  const [scripts, boxes] = await Promise.all([loadScripts(ctx), mailboxes(ctx, true).catch(() => [])]);
  if (state.closed) return;
  const active = scripts.find((s) => s.isActive);
  const ours = scripts.find((s) => s.name === SCRIPT_NAME);
  const target = active || ours || null;
  const stored = target ? await scriptText(ctx, target) : "";
  if (state.closed) return;
  const parsed = target ? readScript(stored) : [];
  const view = {
    rules: parsed || [],
    script: target, // what the raw editor edits
    scriptText: stored,
    foreign: parsed === null,
  };

  const status = h("p", { class: "st-muted", role: "status", "aria-live": "polite" });
  const say = (s, kind = "ok") => {
    status.textContent = s;
    status.className = "st-" + kind;
  };
  const rulesTab = h("button", { type: "button", role: "tab", data: { test: "filters-rules-tab" }, text: t("settings.filters.rulesTab") });
  const rawTab = h("button", { type: "button", role: "tab", data: { test: "filters-raw-tab" }, text: t("settings.filters.rawTab") });
  const rulesPane = h("div", { class: "settings-filters-rules", role: "tabpanel" });
  const rawPane = h("div", { class: "settings-filters-raw", role: "tabpanel" });
  const show = (raw) => {
    rulesPane.hidden = raw;
    rawPane.hidden = !raw;
    rulesTab.setAttribute("aria-selected", String(!raw));
    rawTab.setAttribute("aria-selected", String(raw));
    if (raw) renderRaw();
    else renderRules();
  };
  rulesTab.addEventListener("click", () => show(false));
  rawTab.addEventListener("click", () => show(true));
  body.append(h("p", { class: "st-hint", text: t("settings.filters.intro") }),
    h("div", { class: "st-row", role: "tablist" }, rulesTab, rawTab), rulesPane, rawPane, status);

  // --- the rule editor ---

  const list = h("div", { class: "filter-rules", data: { test: "filter-rules" } });
  const errors = h("ul", { class: "st-error", role: "alert", data: { test: "filter-errors" }, hidden: true });

  const select = (values, current, labelKey, onChange, attrs = {}) => {
    const s = h("select", attrs, values.map((v) => h("option", { value: v, text: t(labelKey + v) })));
    s.value = current;
    s.addEventListener("change", () => onChange(s.value));
    return s;
  };
  const text = (value, label, onInput, attrs = {}) => {
    const i = h("input", { type: "text", value: value || "", "aria-label": label, placeholder: label, ...attrs });
    i.addEventListener("input", () => onInput(i.value));
    return i;
  };
  const button = (key, onClick, attrs = {}) => h("button", { type: "button", text: t(key), on: { click: onClick }, ...attrs });
  const mailboxSelect = (a) => {
    const paths = boxes.map((m) => m.path);
    if (a.mailbox && !paths.includes(a.mailbox)) paths.push(a.mailbox);
    const s = h("select", { "aria-label": t("settings.filters.mailbox"), data: { test: "filter-mailbox" } },
      h("option", { value: "", text: t("settings.filters.chooseMailbox") }),
      paths.map((p) => h("option", { value: p, text: p })));
    s.value = a.mailbox || "";
    s.addEventListener("change", () => (a.mailbox = s.value));
    return s;
  };

  const conditionRow = (rule, c, n) => {
    const header = text(c.header, t("settings.filters.headerName"), (v) => (c.header = v.trim()), { class: "filter-header-name", hidden: c.field !== "header", maxlength: "76" });
    return h("div", { class: "st-row filter-condition", data: { test: "filter-condition" } },
      select(FIELDS, c.field, "settings.filters.field.", (v) => { c.field = v; header.hidden = v !== "header"; }, { "aria-label": t("settings.filters.fieldLabel"), data: { test: "filter-field" } }),
      header,
      select(OPS, c.op, "settings.filters.op.", (v) => (c.op = v), { "aria-label": t("settings.filters.opLabel"), data: { test: "filter-op" } }),
      text(c.value, t("settings.filters.value"), (v) => (c.value = v), { data: { test: "filter-value" }, maxlength: "500" }),
      rule.conditions.length > 1 ? button("settings.filters.remove", () => { rule.conditions.splice(n, 1); renderRules(); }, { "aria-label": t("settings.filters.removeCondition") }) : null);
  };

  const actionRow = (rule, a, n) => {
    const detail = [];
    if (a.type === "move") detail.push(mailboxSelect(a));
    if (a.type === "forward") {
      detail.push(text(a.address, t("settings.filters.forwardTo"), (v) => (a.address = v.trim()), { type: "email", data: { test: "filter-forward" } }));
      const keep = h("input", { type: "checkbox", checked: !!a.keepCopy });
      keep.addEventListener("change", () => (a.keepCopy = keep.checked));
      detail.push(h("label", { class: "st-check" }, keep, h("span", { text: t("settings.filters.keepCopy") })));
    }
    return h("div", { class: "st-row filter-action", data: { test: "filter-action" } },
      select(ACTIONS, a.type, "settings.filters.action.", (v) => {
        rule.actions[n] = v === "move" ? { type: v, mailbox: "" } : v === "forward" ? { type: v, address: "", keepCopy: true } : { type: v };
        renderRules();
      }, { "aria-label": t("settings.filters.actionLabel"), data: { test: "filter-action-type" } }),
      detail,
      button("settings.filters.remove", () => { rule.actions.splice(n, 1); renderRules(); }, { "aria-label": t("settings.filters.removeAction") }));
  };

  const ruleCard = (rule, i) => {
    const rules = view.rules;
    const stop = h("input", { type: "checkbox", checked: !!rule.stop, data: { test: "filter-stop" } });
    stop.addEventListener("change", () => (rule.stop = stop.checked));
    const move = (d) => {
      const j = i + d;
      [rules[i], rules[j]] = [rules[j], rules[i]];
      renderRules();
    };
    return h("section", { class: "filter-rule", data: { test: "filter-rule" }, "aria-label": t("settings.filters.ruleN", { n: i + 1 }) },
      h("div", { class: "st-row" },
        h("h3", { text: t("settings.filters.ruleN", { n: i + 1 }) }),
        text(rule.name, t("settings.filters.ruleName"), (v) => (rule.name = v), { data: { test: "filter-name" }, maxlength: "100" })),
      rule.conditions.length > 1
        ? h("div", { class: "st-row" }, select(["all", "any"], rule.match, "settings.filters.match.", (v) => (rule.match = v), { "aria-label": t("settings.filters.matchLabel"), data: { test: "filter-match" } }))
        : h("p", { class: "st-muted", text: rule.conditions.length ? t("settings.filters.if") : t("settings.filters.always") }),
      rule.conditions.map((c, n) => conditionRow(rule, c, n)),
      h("div", { class: "st-row" }, button("settings.filters.addCondition", () => {
        rule.conditions.push({ field: "subject", op: "contains", value: "" });
        renderRules();
      }, { data: { test: "filter-add-condition" } })),
      h("p", { class: "st-muted", text: t("settings.filters.then") }),
      rule.actions.map((a, n) => actionRow(rule, a, n)),
      h("div", { class: "st-row" },
        button("settings.filters.addAction", () => {
          const free = ACTIONS.find((x) => !rule.actions.some((a) => a.type === x)) || "read";
          rule.actions.push(free === "move" ? { type: free, mailbox: "" } : free === "forward" ? { type: free, address: "", keepCopy: true } : { type: free });
          renderRules();
        }, { data: { test: "filter-add-action" } }),
        h("label", { class: "st-check" }, stop, h("span", { text: t("settings.filters.stop") }))),
      h("div", { class: "st-row" },
        i > 0 ? button("settings.filters.up", () => move(-1)) : null,
        i < rules.length - 1 ? button("settings.filters.down", () => move(1)) : null,
        button("settings.filters.deleteRule", () => { rules.splice(i, 1); renderRules(); }, { class: "st-danger", data: { test: "filter-delete" } })));
  };

  const saveRules = h("button", { type: "button", class: "st-primary", data: { test: "filter-save" }, text: t("settings.filters.save") });
  const addRule = h("button", { type: "button", data: { test: "filter-add" }, text: t("settings.filters.add") });
  addRule.addEventListener("click", () => {
    if (view.rules.length >= MAX_RULES) return;
    view.rules.push(newRule());
    renderRules();
    list.lastElementChild?.querySelector("input")?.focus();
  });
  saveRules.addEventListener("click", async () => {
    const bad = validateRules(view.rules);
    if (bad.length) {
      errors.replaceChildren(...bad.map((e) => h("li", { text: t("settings.filters.errorIn", { n: e.rule + 1, problem: t("settings.filters.error." + e.key) }) })));
      errors.hidden = false;
      return;
    }
    errors.hidden = true;
    saveRules.disabled = true;
    try {
      const src = writeScript(view.rules);
      const blobId = await uploadScript(ctx, src);
      const fresh = await loadScripts(ctx);
      const mine = fresh.find((s) => s.name === SCRIPT_NAME);
      const args = { accountId: acct };
      if (mine) {
        args.update = { [mine.id]: { blobId } };
        args.onSuccessActivateScript = mine.id;
      } else {
        args.create = { f: { name: SCRIPT_NAME, blobId } };
        args.onSuccessActivateScript = "#f";
      }
      const r = await call(ctx, [["SieveScript/set", args, "s"]], USING_SIEVE);
      const res = r.pick("s");
      const se = res.notCreated?.f || (mine && res.notUpdated?.[mine.id]);
      if (se) {
        const p = sieveErrorParts(se);
        return say(t("settings.filters.saveFailed", { message: p.message || se.type }), "error");
      }
      const id = mine ? mine.id : res.created.f.id;
      view.script = { id, name: SCRIPT_NAME, blobId: mine ? res.updated?.[id]?.blobId || blobId : res.created.f.blobId, isActive: true };
      view.scriptText = src;
      view.foreign = false;
      say(t("settings.filters.saved"));
      ctx.notify?.("settings.filters.saved");
      renderRules();
    } catch (err) {
      say(err instanceof MethodError ? t("settings.error.server", { type: err.type, description: err.message }) : t("settings.error.network"), "error");
    } finally {
      saveRules.disabled = false;
    }
  });

  // renderRules shows the rules; over a script the editor did not write,
  // a notice first: saving rules replaces that script as the active one.
  function renderRules() {
    const notice = view.foreign
      ? h("div", { class: "st-card", data: { test: "filter-foreign" } },
        h("p", { text: t(view.script?.name === SCRIPT_NAME ? "settings.filters.foreignOwn" : "settings.filters.foreign", { name: view.script?.name || "" }) }),
        h("div", { class: "st-row" }, button("settings.filters.showRaw", () => show(true))))
      : null;
    list.replaceChildren(...view.rules.map(ruleCard));
    if (!view.rules.length) list.append(h("p", { class: "st-muted", text: t("settings.filters.noRules") }));
    rulesPane.replaceChildren(...[notice, list, errors, h("div", { class: "st-row" }, addRule, saveRules)].filter(Boolean));
  }

  // --- the raw script ---

  const raw = h("textarea", { class: "sieve-raw", data: { test: "sieve-raw" }, spellcheck: "false", "aria-label": t("settings.filters.rawLabel"), wrap: "off", rows: "20" });
  const rawError = h("p", { class: "st-error", role: "alert", data: { test: "sieve-error" }, hidden: true });
  const showRawError = (se) => {
    if (!se) {
      rawError.hidden = true;
      rawError.textContent = "";
      return;
    }
    const p = sieveErrorParts(se);
    rawError.textContent = p.line ? t("settings.filters.errorAt", { line: p.line, column: p.column, message: p.message }) : t("settings.filters.errorPlain", { message: p.message });
    rawError.hidden = false;
    if (p.line) {
      // Put the cursor where the compiler stopped (Column counts bytes;
      // close enough for the ASCII scripts it is about).
      const lines = raw.value.split("\n");
      let at = 0;
      for (let i = 0; i < p.line - 1 && i < lines.length; i++) at += lines[i].length + 1;
      at += Math.max(0, p.column - 1);
      raw.focus();
      raw.setSelectionRange(at, at);
    }
  };
  const check = h("button", { type: "button", data: { test: "sieve-check" }, text: t("settings.filters.check") });
  const saveRaw = h("button", { type: "button", class: "st-primary", data: { test: "sieve-save" }, text: t("settings.filters.saveRaw") });
  check.addEventListener("click", async () => {
    check.disabled = true;
    try {
      const blobId = await uploadScript(ctx, raw.value);
      const r = await call(ctx, [["SieveScript/validate", { accountId: acct, blobId }, "v"]], USING_SIEVE);
      const res = r.pick("v");
      showRawError(res.error);
      say(res.error ? "" : t("settings.filters.valid"), res.error ? "muted" : "ok");
    } catch (err) {
      say(err instanceof MethodError ? t("settings.error.server", { type: err.type, description: err.message }) : t("settings.error.network"), "error");
    } finally {
      check.disabled = false;
    }
  });
  saveRaw.addEventListener("click", async () => {
    saveRaw.disabled = true;
    try {
      const src = raw.value;
      const blobId = await uploadScript(ctx, src);
      const s = view.script;
      const args = { accountId: acct };
      if (s) {
        args.update = { [s.id]: { blobId } };
        args.onSuccessActivateScript = s.id;
      } else {
        args.create = { f: { name: SCRIPT_NAME, blobId } };
        args.onSuccessActivateScript = "#f";
      }
      const r = await call(ctx, [["SieveScript/set", args, "s"]], USING_SIEVE);
      const res = r.pick("s");
      const se = s ? res.notUpdated?.[s.id] : res.notCreated?.f;
      if (se) {
        if (se.type === "invalidSieve") showRawError(se);
        else say(t("settings.filters.saveFailed", { message: se.description || se.type }), "error");
        return;
      }
      showRawError(null);
      view.script = s ? { ...s, isActive: true } : { id: res.created.f.id, name: SCRIPT_NAME, isActive: true };
      view.scriptText = src;
      const rules = readScript(src);
      view.foreign = rules === null;
      view.rules = rules || [];
      say(t("settings.filters.saved"));
      ctx.notify?.("settings.filters.saved");
    } catch (err) {
      say(err instanceof MethodError ? t("settings.error.server", { type: err.type, description: err.message }) : t("settings.error.network"), "error");
    } finally {
      saveRaw.disabled = false;
    }
  });

  function renderRaw() {
    // The rules as they stand if the editor owns the script, else the
    // script as stored.
    raw.value = !view.foreign && validateRules(view.rules).length === 0 ? writeScript(view.rules) : view.scriptText;
    showRawError(null);
    rawPane.replaceChildren(
      h("p", { class: "st-hint", text: view.script ? t("settings.filters.rawOf", { name: view.script.name }) : t("settings.filters.rawNew") }),
      raw, rawError, h("div", { class: "st-row" }, check, saveRaw));
  }

  show(false);
}
