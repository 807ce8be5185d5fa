// The message list: a virtual scroller over an Email/query. Only the rows in
// view (and a few around) are in the DOM; their data is fetched a page at a
// time by position, so a 100,000-message folder costs what a small one does.

import { el, icon, button, displayAddr, popupMenu } from "./ui.js";
import { t, formatDate, formatNumber } from "./i18n.js";
import { DRAG_TYPE } from "./mailboxes.js";
import { snippetNodes } from "./search.js";

const PAGE = 50;
const OVERSCAN = 8;
export const LIST_PROPS = ["threadId", "mailboxIds", "keywords", "from", "to", "subject", "preview", "receivedAt", "hasAttachment", "size"];

export class MessageList {
  constructor(app) {
    this.app = app;
    this.query = null;
    this.rowH = 76;
    this.reset();
    this.root = el("section", { class: "listpane", "aria-label": t("core.messages") });
    this.toolbar = el("div", { class: "toolbar list-toolbar" });
    this.banner = el("div", { class: "select-banner", hidden: true });
    this.scroller = el("div", { class: "scroller", "data-test": "message-list", role: "listbox", "aria-multiselectable": "true", tabindex: "0" });
    this.spacer = el("div", { class: "spacer" });
    this.empty = el("p", { class: "empty", hidden: true });
    this.scroller.append(this.spacer, this.empty);
    this.root.append(this.toolbar, this.banner, this.scroller);
    let pending = false;
    this.scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        this.paint();
      });
    }, { passive: true });
    new ResizeObserver(() => this.paint()).observe(this.scroller);
  }

  reset() {
    this.total = null;
    this.ids = [];
    this.emails = new Map();
    this.threads = new Map();
    this.threadState = new Map();
    this.snippets = new Map();
    this.loading = new Map();
    this.rows = new Map();
    this.queryState = null;
    this.refreshing = null;
    this.refreshAgain = false;
    this.selected = new Set();
    this.allMatching = false;
    this.anchor = null;
    this.cursor = -1;
    this.generation = (this.generation || 0) + 1;
  }

  // setQuery shows a new list: {filter, sort, collapseThreads, title, mailbox, search}.
  setQuery(q) {
    const key = JSON.stringify([q.filter, q.sort, q.collapseThreads]);
    if (this.query && this.query.key === key) {
      this.query = Object.assign(q, { key });
      this.renderToolbar();
      this.paint();
      return;
    }
    this.query = Object.assign(q, { key });
    for (const r of this.rows.values()) r.remove();
    this.reset();
    this.scroller.scrollTop = 0;
    this.renderToolbar();
    this.ensure(0, PAGE - 1);
  }

  // refresh re-reads what is in view after a change on the server. The old
  // rows stay until the new ones arrive, so a stream of deliveries does not
  // make the list flicker.
  refresh() {
    if (!this.query) return;
    const [first, last] = this.visibleRange();
    const start = Math.floor(first / PAGE) * PAGE;
    const limit = Math.min(Math.max(last - start + 1, PAGE), 500);
    // One refresh at a time; changes during it make one more afterwards.
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    const gen = this.generation;
    this.refreshing = this.fetchPage(start, limit, true).finally(() => {
      if (gen !== this.generation) return;
      this.refreshing = null;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.refresh();
      }
    });
  }

  visibleRange() {
    const top = this.scroller.scrollTop;
    const h = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowH) - OVERSCAN);
    let last = Math.ceil((top + h) / this.rowH) + OVERSCAN;
    if (this.total !== null) last = Math.min(last, this.total - 1);
    return [first, last];
  }

  ensure(first, last) {
    for (let p = Math.floor(first / PAGE) * PAGE; p <= last; p += PAGE) {
      let missing = false;
      for (let i = p; i < p + PAGE && (this.total === null || i < this.total); i++) {
        if (!this.ids[i] || !this.emails.has(this.ids[i])) {
          missing = true;
          break;
        }
      }
      if (missing && !this.loading.has(p)) this.loading.set(p, this.fetchPage(p));
    }
  }

  // scheduleEnsure fetches what is in view once scrolling pauses, so that a
  // fling through 100,000 rows asks only for where it lands.
  scheduleEnsure() {
    clearTimeout(this.ensureTimer);
    this.ensureTimer = setTimeout(() => {
      const [first, last] = this.visibleRange();
      this.ensure(first, last);
      this.prune(first, last);
    }, 60);
  }

  // prune forgets rows far from view, so a long scroll does not keep every
  // email it passed.
  prune(first, last) {
    if (this.emails.size < 4000) return;
    const keep = new Set();
    for (let i = Math.max(0, first - 1000); i <= last + 1000; i++) if (this.ids[i]) keep.add(this.ids[i]);
    for (const id of this.selected) keep.add(id);
    for (const id of this.emails.keys()) if (!keep.has(id)) this.emails.delete(id);
  }

  async fetchPage(position, limit, replace) {
    limit = limit || PAGE;
    const gen = this.generation;
    const q = this.query;
    const calls = [
      ["Email/query", { filter: q.filter, sort: q.sort, collapseThreads: !!q.collapseThreads, position, limit, calculateTotal: true }, "q"],
      ["Email/get", { "#ids": { resultOf: "q", name: "Email/query", path: "/ids" }, properties: LIST_PROPS }, "g"],
    ];
    if (q.collapseThreads) {
      calls.push(["Thread/get", { "#ids": { resultOf: "g", name: "Email/get", path: "/list/*/threadId" } }, "t"]);
      // A conversation is unread (or flagged) when any of its emails is.
      calls.push(["Email/get", { "#ids": { resultOf: "t", name: "Thread/get", path: "/list/*/emailIds" }, properties: ["threadId", "keywords"] }, "k"]);
    }
    if (q.search) {
      calls.push(["SearchSnippet/get", { filter: q.filter, "#emailIds": { resultOf: "q", name: "Email/query", path: "/ids" } }, "s"]);
    }
    try {
      const res = await this.app.api.call(calls);
      if (gen !== this.generation) return;
      for (const [name, args, callId] of res) {
        if (callId === "k") {
          // Best effort: a page of very long threads may be over
          // maxObjectsInGet, and then rows show their newest email's state.
          if (name === "Email/get") this.noteThreadKeywords(args.list);
          continue;
        }
        if (name === "error") {
          this.showError(args.description || args.type);
          return;
        }
        if (name === "Email/query") {
          if (replace || (this.queryState && args.queryState !== this.queryState)) {
            // The list moved under us: what we hold by position is stale.
            this.ids = [];
          }
          this.queryState = args.queryState;
          this.total = args.total;
          args.ids.forEach((id, i) => { this.ids[position + i] = id; });
        } else if (name === "Email/get") {
          for (const e of args.list) this.emails.set(e.id, e);
        } else if (name === "Thread/get") {
          for (const th of args.list) this.threads.set(th.id, th.emailIds);
        } else if (name === "SearchSnippet/get") {
          for (const s of args.list) this.snippets.set(s.emailId, s);
        }
      }
    } catch (e) {
      if (gen === this.generation) this.showError(e.message);
    } finally {
      if (gen === this.generation) this.loading.delete(position);
    }
    if (gen !== this.generation) return;
    this.spacer.style.height = (this.total || 0) * this.rowH + "px";
    this.renderToolbar();
    this.paint();
  }

  noteThreadKeywords(list) {
    const acc = new Map();
    for (const e of list) {
      const st = acc.get(e.threadId) || { unread: false, flagged: false };
      if (!e.keywords.$seen) st.unread = true;
      if (e.keywords.$flagged) st.flagged = true;
      acc.set(e.threadId, st);
    }
    for (const [id, st] of acc) this.threadState.set(id, st);
  }

  // rowState: unread and flagged of a row, for a conversation any of its
  // emails.
  rowState(e) {
    const st = this.query.collapseThreads && this.threadState.get(e.threadId);
    return {
      unread: st ? st.unread : !e.keywords.$seen,
      flagged: st ? st.flagged : !!e.keywords.$flagged,
    };
  }

  showError(msg) {
    this.empty.hidden = false;
    this.empty.textContent = t("core.loadError", { reason: msg });
  }

  paint() {
    if (!this.query) return;
    const css = parseFloat(getComputedStyle(this.scroller).getPropertyValue("--row-h"));
    if (css && css !== this.rowH) {
      this.rowH = css;
      for (const r of this.rows.values()) r.remove();
      this.rows.clear();
    }
    this.spacer.style.height = (this.total || 0) * this.rowH + "px";
    if (this.total === 0) {
      this.empty.hidden = false;
      this.empty.textContent = this.query.search ? t("core.noResults") : t("core.emptyFolder");
    } else if (this.total) {
      this.empty.hidden = true;
    }
    const [first, last] = this.visibleRange();
    if (this.total !== null) this.scheduleEnsure();
    for (const [pos, row] of this.rows) {
      if (pos < first || pos > last) {
        row.remove();
        this.rows.delete(pos);
      }
    }
    if (this.total === null) return;
    for (let pos = first; pos <= last; pos++) {
      const id = this.ids[pos];
      const email = id && this.emails.get(id);
      const old = this.rows.get(pos);
      const sig = email ? this.signature(email, pos) : "";
      if (old && old.dataset.sig === sig) continue;
      const row = email ? this.renderRow(pos, email) : this.placeholder(pos);
      row.dataset.sig = sig;
      if (old) old.replaceWith(row);
      else this.spacer.append(row);
      this.rows.set(pos, row);
    }
  }

  signature(e, pos) {
    return [e.id, JSON.stringify(e.keywords), JSON.stringify(this.rowState(e)), this.selected.has(e.id), this.app.openId === e.id, this.cursor === pos, (this.threads.get(e.threadId) || []).length, this.snippets.has(e.id), Object.keys(e.mailboxIds).join()].join("|");
  }

  placeholder(pos) {
    const row = el("div", { class: "row placeholder", "aria-hidden": "true" });
    row.style.transform = `translateY(${pos * this.rowH}px)`;
    row.append(el("span", { class: "skeleton" }), el("span", { class: "skeleton short" }));
    return row;
  }

  threadSize(e) {
    const ids = this.threads.get(e.threadId);
    return ids ? ids.length : 1;
  }

  renderRow(pos, e) {
    const { unread, flagged } = this.rowState(e);
    const sel = this.selected.has(e.id);
    const row = el("div", {
      class: "row" + (unread ? " unread" : "") + (sel ? " selected" : "") + (this.app.openId === e.id ? " open" : "") + (this.cursor === pos ? " cursor" : ""),
      role: "option",
      "aria-selected": String(sel),
      "data-test": "message-row",
      "data-id": e.id,
      "data-unread": unread ? "true" : undefined,
      draggable: "true",
    });
    row.style.transform = `translateY(${pos * this.rowH}px)`;
    const check = el("input", { type: "checkbox", class: "row-check", "data-test": "row-select", "aria-label": t("core.select") });
    check.checked = sel;
    check.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.clickSelect(pos, e.id, ev.shiftKey, true);
    });
    const inSent = this.query.mailbox && (this.query.mailbox.role === "sent" || this.query.mailbox.role === "drafts");
    const who = inSent ? t("core.toPrefix", { name: (e.to || []).map(displayAddr).join(", ") }) : (e.from || []).map(displayAddr).join(", ");
    const n = this.query.collapseThreads ? this.threadSize(e) : 1;
    const star = el("button", { type: "button", class: "star" + (flagged ? " on" : ""), "data-test": "row-flag", "aria-pressed": String(flagged), "aria-label": t(flagged ? "core.unflag" : "core.flag") }, icon(flagged ? "i-star-on" : "i-star"));
    star.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.app.actions.setKeyword(this.expand([e.id]), "$flagged", !flagged);
    });
    const top = el("div", { class: "row-top" },
      el("span", { class: "from", text: who || t("core.noSender") }),
      n > 1 ? el("span", { class: "count", "data-test": "thread-count", text: formatNumber(n) }) : null,
      e.hasAttachment ? el("span", { class: "attach", "data-test": "has-attachment", "aria-label": t("core.hasAttachment"), title: t("core.hasAttachment") }, icon("i-clip")) : null,
      el("time", { class: "date", datetime: e.receivedAt, text: formatDate(e.receivedAt, "list") }));
    const snip = this.snippets.get(e.id);
    const subj = el("div", { class: "subject" });
    if (snip && snip.subject) subj.append(...snippetNodes(snip.subject));
    else subj.textContent = e.subject || t("core.noSubject");
    const prev = el("div", { class: "preview" });
    if (snip && snip.preview) {
      prev.dataset.test = "snippet";
      prev.append(...snippetNodes(snip.preview));
    } else {
      prev.textContent = e.preview || "";
    }
    row.append(check, star, el("div", { class: "row-main" }, top, subj, prev));
    row.addEventListener("click", (ev) => {
      if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
        ev.preventDefault();
        this.clickSelect(pos, e.id, ev.shiftKey, ev.ctrlKey || ev.metaKey);
        return;
      }
      this.cursor = pos;
      this.open(e);
    });
    row.addEventListener("dragstart", (ev) => {
      const ids = this.selected.has(e.id) ? [...this.selected] : [e.id];
      ev.dataTransfer.setData(DRAG_TYPE, JSON.stringify(this.expand(ids)));
      ev.dataTransfer.setData("text/plain", e.subject || "");
      ev.dataTransfer.effectAllowed = "move";
    });
    return row;
  }

  open(e) {
    if (e.keywords.$draft && this.query.mailbox && this.query.mailbox.role === "drafts") {
      this.app.navigate("/compose?draft=" + e.id);
      return;
    }
    if (this.query.collapseThreads && this.threadSize(e) > 1) this.app.navigate("/t/" + e.threadId, { openId: e.id });
    else this.app.navigate("/m/" + e.id);
  }

  clickSelect(pos, id, shift, toggle) {
    this.allMatching = false;
    if (shift && this.anchor !== null) {
      const [a, b] = this.anchor < pos ? [this.anchor, pos] : [pos, this.anchor];
      for (let i = a; i <= b; i++) if (this.ids[i]) this.selected.add(this.ids[i]);
    } else if (toggle) {
      if (this.selected.has(id)) this.selected.delete(id);
      else this.selected.add(id);
      this.anchor = pos;
    }
    this.selectionChanged();
  }

  selectionChanged() {
    this.renderToolbar();
    this.paint();
  }

  clearSelection() {
    this.selected.clear();
    this.allMatching = false;
    this.selectionChanged();
  }

  // expand turns collapsed-thread rows into all their emails.
  expand(ids) {
    if (!this.query || !this.query.collapseThreads) return ids;
    const out = new Set();
    for (const id of ids) {
      const e = this.emails.get(id);
      const th = e && this.threads.get(e.threadId);
      if (th) th.forEach((x) => out.add(x));
      else out.add(id);
    }
    return [...out];
  }

  // selectedIds resolves the selection to email ids, fetching every match
  // of the query when "select all matching" is on.
  async selectedIds() {
    if (!this.allMatching) return this.expand([...this.selected]);
    const out = [];
    for (let pos = 0; ; pos += 10000) {
      const r = await this.app.api.query("Email", { filter: this.query.filter, sort: this.query.sort, position: pos, limit: 10000 });
      out.push(...r.ids);
      if (r.ids.length < 10000) break;
    }
    return out;
  }

  selectionCount() {
    return this.allMatching ? this.total : this.selected.size;
  }

  renderToolbar() {
    const q = this.query;
    this.toolbar.textContent = "";
    this.banner.hidden = true;
    this.banner.textContent = "";
    if (!q) return;
    const all = el("input", { type: "checkbox", class: "select-all", "data-test": "select-all", "aria-label": t("core.selectAll") });
    const loadedInView = [];
    const [first, last] = this.visibleRange();
    for (let i = first; i <= last; i++) if (this.ids[i]) loadedInView.push(this.ids[i]);
    all.checked = this.allMatching || (this.selected.size > 0 && loadedInView.every((id) => this.selected.has(id)));
    all.indeterminate = !all.checked && this.selected.size > 0;
    all.addEventListener("change", () => {
      if (all.checked) loadedInView.forEach((id) => this.selected.add(id));
      else {
        this.selected.clear();
        this.allMatching = false;
      }
      this.selectionChanged();
    });
    this.toolbar.append(all);
    const n = this.selectionCount();
    if (n > 0) {
      const a = this.app.actions;
      const sel = async () => this.selectedIds();
      const mbRole = q.mailbox && q.mailbox.role;
      this.toolbar.append(
        el("span", { class: "sel-count", "data-test": "selection-count", text: t("core.selectedCount", { count: n }) }),
        button({ icon: "i-read", label: t("core.markRead"), test: "bulk-read", iconOnly: true, onClick: async () => a.setKeyword(await sel(), "$seen", true) }),
        button({ icon: "i-unread", label: t("core.markUnread"), test: "bulk-unread", iconOnly: true, onClick: async () => a.setKeyword(await sel(), "$seen", false) }),
        button({ icon: "i-flag", label: t("core.flag"), test: "bulk-flag", iconOnly: true, onClick: async () => a.setKeyword(await sel(), "$flagged", true) }),
        button({ icon: "i-archive", label: t("core.archive"), test: "bulk-archive", iconOnly: true, onClick: async () => a.archive(await sel()) }),
        button({ icon: "i-trash", label: t("core.delete"), test: "bulk-delete", iconOnly: true, onClick: async () => a.trash(await sel()) }),
        button({ icon: "i-junk", label: t(mbRole === "junk" ? "core.notJunk" : "core.junk"), test: "bulk-junk", iconOnly: true, onClick: async () => (mbRole === "junk" ? a.notJunk(await sel()) : a.junk(await sel())) }),
      );
      const mv = button({ icon: "i-move", label: t("core.moveTo"), test: "bulk-move", iconOnly: true });
      mv.addEventListener("click", (ev) => {
        ev.stopPropagation();
        this.app.moveMenu(mv, sel);
      });
      this.toolbar.append(mv);
      if (!this.allMatching && this.total > this.selected.size && all.checked) {
        this.banner.hidden = false;
        this.banner.append(
          el("span", { text: t("core.selectedInView", { count: this.selected.size }) }),
          el("button", { type: "button", class: "link", "data-test": "select-all-matching", text: t("core.selectAllMatching", { count: this.total }), onClick: () => {
            this.allMatching = true;
            this.selectionChanged();
          } }));
      } else if (this.allMatching) {
        this.banner.hidden = false;
        this.banner.append(el("span", { text: t("core.allMatchingSelected", { count: this.total }) }),
          el("button", { type: "button", class: "link", "data-test": "clear-selection", text: t("core.clearSelection"), onClick: () => this.clearSelection() }));
      }
      return;
    }
    this.toolbar.append(el("h1", { class: "list-title", "data-test": "list-title", text: q.title || "" }));
    if (this.total !== null) this.toolbar.append(el("span", { class: "list-total", text: t(q.collapseThreads ? "core.conversationCount" : "core.messageCount", { count: this.total }) }));
    this.toolbar.append(el("span", { class: "grow" }));
    if (q.mailbox && (q.mailbox.role === "trash" || q.mailbox.role === "junk") && this.total) {
      this.toolbar.append(button({ icon: "i-trash", label: t(q.mailbox.role === "trash" ? "core.emptyTrash" : "core.emptyJunk"), test: "empty-trash", onClick: () => this.app.actions.emptyMailbox(q.mailbox) }));
    }
    this.toolbar.append(button({ icon: "i-refresh", label: t("core.refresh"), test: "refresh", iconOnly: true, onClick: () => this.app.refresh() }));
  }

  // moveCursor for j/k: returns the email at the new cursor.
  moveCursor(delta) {
    if (!this.total) return null;
    let pos = this.cursor;
    if (pos < 0 && this.app.openId) pos = this.ids.indexOf(this.app.openId);
    pos = Math.max(0, Math.min(this.total - 1, pos + delta));
    this.cursor = pos;
    const top = pos * this.rowH;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + this.rowH > this.scroller.scrollTop + this.scroller.clientHeight) this.scroller.scrollTop = top + this.rowH - this.scroller.clientHeight;
    this.paint();
    const id = this.ids[pos];
    return id ? this.emails.get(id) : null;
  }

  cursorEmail() {
    const id = this.ids[this.cursor];
    return id ? this.emails.get(id) : null;
  }

  // patch updates a loaded email at once (before the server confirms).
  patch(ids, fn) {
    for (const id of ids) {
      const e = this.emails.get(id);
      if (!e) continue;
      fn(e);
      // The change was made to the whole conversation (actions expand a
      // row into all its emails; opening a conversation reads it all).
      if (this.threadState.has(e.threadId)) this.threadState.set(e.threadId, { unread: !e.keywords.$seen, flagged: !!e.keywords.$flagged });
    }
    this.paint();
  }

  // neighbour: the email after (or before) id in the list, for moving on
  // after an archive or delete.
  neighbour(id) {
    const pos = this.ids.indexOf(id);
    if (pos < 0) return null;
    const next = this.ids[pos + 1] || this.ids[pos - 1];
    return next ? this.emails.get(next) : null;
  }
}

export { popupMenu };
