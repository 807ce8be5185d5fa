// The outbound queue (list with filters, one message's header and
// attempts, retry / hold / release / drop) and the delivery log (search by
// address, Message-ID or queue id; one message's trace step by step).

import { t, formatDate, formatSize, formatNumber } from "./i18n.js";
import { el, button } from "./ui.js";
import { header, section, table, field, input, errorBox, showError, when, busy, badge, link, confirmDelete } from "./admin-ui.js";

const STATE_TONE = { active: "ok", deferred: "warn", held: "off" };
const EVENT_TONE = { accepted: "", delivered: "ok", relayed: "ok", queued: "", deferred: "warn", bounced: "bad", rejected: "bad", dropped: "bad", held: "off", released: "", retried: "" };

export async function queue(ctx, target) {
  const id = ctx.params.get("id");
  if (id) return queueEntry(ctx, target, id);
  const q = new URLSearchParams();
  for (const k of ["state", "domain", "address"]) if (ctx.params.get(k)) q.set(k, ctx.params.get(k));
  const [sum, list] = await Promise.all([ctx.api.get("/queue/summary"), ctx.api.get("/queue" + (q.size ? "?" + q : ""))]);
  const state = el("select", { name: "state", "data-test": "queue-state", "aria-label": t("admin.queue.state") },
    el("option", { value: "", text: t("admin.queue.all") }),
    ...["active", "deferred", "held"].map((s) => el("option", { value: s, text: t("admin.queue.state." + s) + " (" + formatNumber(sum[s] || 0) + ")" })));
  state.value = ctx.params.get("state") || "";
  const domain = input({ name: "domain", value: ctx.params.get("domain") || "", "data-test": "queue-domain", placeholder: "example.net" });
  const address = input({ name: "address", type: "email", value: ctx.params.get("address") || "", "data-test": "queue-address", placeholder: "ann@example.net" });
  const filters = el("form", { class: "adm-form adm-inline adm-filters", "data-test": "queue-filters" },
    field(t("admin.queue.state"), state), field(t("admin.queue.domain"), domain), field(t("admin.queue.address"), address),
    el("button", { type: "submit", class: "btn", "data-test": "queue-filter", text: t("admin.filter") }));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (state.value) p.set("state", state.value);
    if (domain.value.trim()) p.set("domain", domain.value.trim());
    if (address.value.trim()) p.set("address", address.value.trim());
    ctx.go("/admin/queue" + (p.size ? "?" + p : ""));
  });
  target.replaceChildren(
    header(t("admin.nav.queue"), button({ icon: "i-refresh", label: t("admin.reload"), test: "queue-reload", onClick: () => ctx.refresh() })),
    filters,
    table([
      { label: t("admin.queue.id"), value: (e) => link("/admin/queue?id=" + e.id, "#" + e.id, "queue-link") },
      { label: t("admin.queue.state"), value: (e) => badge(t("admin.queue.state." + e.state), STATE_TONE[e.state], "queue-state-" + e.state) },
      { label: t("admin.queue.sender"), value: (e) => e.sender || t("admin.queue.nullSender"), cls: "wrap" },
      { label: t("admin.queue.recipients"), value: (e) => e.recipients.map((r) => r.address).join(", "), cls: "wrap" },
      { label: t("admin.queue.attempts"), value: (e) => formatNumber(Math.max(0, ...e.recipients.map((r) => r.attempts))) },
      { label: t("admin.created"), value: (e) => formatDate(e.created, "list") },
      { label: t("admin.queue.size"), value: (e) => formatSize(e.size) },
    ], list.entries, { test: "queue", empty: t("admin.queue.empty"), rowTest: (e) => "queue-" + e.id }));
}

async function queueEntry(ctx, target, id) {
  const e = await ctx.api.get("/queue/" + encodeURIComponent(id));
  const err = errorBox("queue-action-error");
  const action = (name, label, opts = {}) => {
    const b = button({ icon: opts.icon, label, cls: opts.cls, test: "queue-" + name, onClick: () => busy(b, async () => {
      if (opts.confirm && !(await confirmDelete(label, opts.confirm, label))) return;
      try {
        await ctx.api.post(`/queue/${e.id}/${name}`);
        ctx.toast(t("admin.queue.done." + name, { id: e.id }));
        if (name === "drop") ctx.go("/admin/queue");
        else ctx.refresh();
      } catch (ex) {
        showError(err, ex);
      }
    }) });
    return b;
  };
  const actions = el("div", { class: "adm-actions" },
    action("retry", t("admin.queue.retry"), { icon: "i-refresh" }),
    e.state === "held" ? action("release", t("admin.queue.release")) : action("hold", t("admin.queue.hold")),
    action("drop", t("admin.queue.drop"), { icon: "i-trash", cls: "danger", confirm: t("admin.queue.dropText", { id: e.id }) }),
    link("/admin/log?trace=" + e.id, t("admin.log.trace"), "queue-trace"));
  target.replaceChildren(
    header(t("admin.queue.entry", { id: e.id }), link("/admin/queue", t("admin.queue.back"), "queue-back")),
    el("dl", { class: "adm-facts", "data-test": "queue-facts" },
      el("dt", { text: t("admin.queue.state") }), el("dd", null, badge(t("admin.queue.state." + e.state), STATE_TONE[e.state], "queue-entry-state")),
      el("dt", { text: t("admin.queue.sender") }), el("dd", { text: e.sender || t("admin.queue.nullSender") }),
      el("dt", { text: t("admin.created") }), el("dd", null, when(e.created)),
      el("dt", { text: t("admin.queue.size") }), el("dd", { text: formatSize(e.size) })),
    actions, err,
    section(t("admin.queue.recipients"), table([
      { label: t("admin.queue.address"), value: (r) => r.address, cls: "wrap" },
      { label: t("admin.queue.status"), value: (r) => (["pending", "delivered", "failed"].includes(r.status) ? t("admin.queue.rcpt." + r.status) : r.status) },
      { label: t("admin.queue.attempts"), value: (r) => formatNumber(r.attempts) },
      { label: t("admin.queue.next"), value: (r) => (r.next_attempt ? when(r.next_attempt) : "—") },
      { label: t("admin.queue.lastError"), value: (r) => r.last_error || "—", cls: "wrap", },
      { label: t("admin.queue.peer"), value: (r) => [r.last_peer, r.last_tls].filter(Boolean).join(" · ") || "—", cls: "wrap" },
    ], e.recipients, { test: "queue-recipients" })),
    section(t("admin.queue.header"), el("pre", { class: "adm-pre", "data-test": "queue-header", text: (e.header || []).join("\n") || "—" })));
}

// ---- delivery log

// guessKind picks the search field from what was typed: digits are a
// queue id, an address has one @ and no angle brackets or spaces, the rest
// is a Message-ID.
export function guessKind(s) {
  if (/^\d+$/.test(s)) return "queue_id";
  if (/^<.*>$/.test(s)) return "message_id";
  if (/^[^\s@<>]+@[^\s@<>]+$/.test(s) && !/[$%]/.test(s)) return "address";
  return "message_id";
}

export async function deliveryLog(ctx, target) {
  const key = ctx.params.get("trace");
  if (key) return trace(ctx, target, key);
  const kinds = ["address", "message_id", "queue_id"];
  const given = kinds.find((k) => ctx.params.get(k));
  const q = el("input", { type: "search", name: "q", value: given ? ctx.params.get(given) : "", "data-test": "log-query", placeholder: t("admin.log.placeholder"), autocomplete: "off", spellcheck: "false" });
  const by = el("select", { "data-test": "log-by", "aria-label": t("admin.log.by") }, el("option", { value: "", text: t("admin.log.auto") }),
    ...kinds.map((k) => el("option", { value: k, text: t("admin.log.kind." + k) })));
  by.value = given || "";
  const form = el("form", { class: "adm-form adm-inline adm-filters", role: "search" }, field(t("admin.log.search"), q), field(t("admin.log.by"), by),
    el("button", { type: "submit", class: "btn primary", "data-test": "log-search", text: t("admin.log.searchButton") }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = q.value.trim();
    ctx.go("/admin/log" + (v ? "?" + new URLSearchParams({ [by.value || guessKind(v)]: v }) : ""));
  });
  const p = new URLSearchParams();
  if (given) p.set(given, ctx.params.get(given));
  if (ctx.params.get("before")) p.set("before", ctx.params.get("before"));
  const res = await ctx.api.get("/log" + (p.size ? "?" + p : ""));
  const rows = table([
    { label: t("admin.log.time"), value: (e) => formatDate(e.time, "full") },
    { label: t("admin.log.event"), value: (e) => badge(t("admin.log.ev." + e.event), EVENT_TONE[e.event], "log-event-" + e.event) },
    { label: t("admin.log.from"), value: (e) => (e.sender === undefined ? "" : e.sender || "<>"), cls: "wrap" },
    { label: t("admin.log.to"), value: (e) => e.rcpt || "", cls: "wrap" },
    { label: t("admin.log.detail"), value: (e) => e.detail || "", cls: "wrap" },
    { label: "", value: (e) => traceKey(e) && link("/admin/log?trace=" + encodeURIComponent(traceKey(e)), t("admin.log.trace"), "log-trace") },
  ], res.events, { test: "log", empty: t("admin.log.empty"), rowTest: (e) => "log-" + e.event });
  const parts = [header(t("admin.nav.log")), form, rows];
  if (res.next_before) {
    const more = new URLSearchParams(p);
    more.set("before", res.next_before);
    parts.push(el("div", { class: "adm-actions" }, link("/admin/log?" + more, t("admin.older"), "log-older")));
  }
  target.replaceChildren(...parts);
}

function traceKey(e) {
  return e.txn || e.message_id || (e.queue_id ? String(e.queue_id) : "");
}

async function trace(ctx, target, key) {
  const tr = await ctx.api.get("/log/trace?key=" + encodeURIComponent(key));
  const outcome = Object.entries(tr.outcome || {});
  target.replaceChildren(
    header(t("admin.log.traceTitle"), link("/admin/log", t("admin.log.back"), "trace-back")),
    el("p", { class: "adm-note mono wrap", "data-test": "trace-key", text: key }),
    section(t("admin.log.outcome"), table([
      { label: t("admin.log.to"), value: ([r]) => r, cls: "wrap" },
      { label: t("admin.log.result"), value: ([, k]) => badge(t("admin.log.ev." + k), EVENT_TONE[k], "trace-outcome-" + k) },
    ], outcome, { test: "trace-outcome" })),
    section(t("admin.log.steps"), el("ol", { class: "adm-steps", "data-test": "trace-steps" }, ...tr.steps.map((s) => el("li", { class: "adm-step", "data-test": "trace-step-" + s.event },
      el("div", { class: "adm-step-head" },
        badge(t("admin.log.ev." + s.event), EVENT_TONE[s.event]),
        el("span", { class: "adm-step-after", text: "+" + formatMs(s.after_ms) }),
        el("time", { datetime: s.time, text: formatDate(s.time, "full") })),
      el("div", { class: "adm-step-body wrap" }, [
        s.sender !== undefined ? t("admin.log.fromX", { x: s.sender || "<>" }) : "",
        s.rcpt ? t("admin.log.toX", { x: s.rcpt }) : "",
        s.source ? t("admin.log.viaX", { x: s.source }) : "",
        s.queue_id ? t("admin.log.queueX", { x: String(s.queue_id) }) : "",
        s.delay_ms ? t("admin.log.delayX", { x: formatMs(s.delay_ms) }) : "",
      ].filter(Boolean).join(" · ")),
      s.detail ? el("div", { class: "adm-step-detail mono wrap", text: s.detail }) : null)))));
}

function formatMs(ms) {
  if (ms < 1000) return t("admin.ms", { n: ms });
  if (ms < 120000) return t("admin.sec", { n: Math.round(ms / 100) / 10 });
  return t("admin.min", { n: Math.round(ms / 6000) / 10 });
}
