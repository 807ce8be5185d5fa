// The reading pane: one message or a conversation. Plain text is shown with
// links made clickable and quoted text folded; HTML comes sanitised from the
// server into a sandboxed iframe that can run nothing and reach no host
// until the reader allows remote content.

import { el, icon, button, displayAddr, addrList, dialog } from "./ui.js";
import { t, formatDate, formatSize } from "./i18n.js";

export const READER_PROPS = ["threadId", "mailboxIds", "keywords", "from", "to", "cc", "bcc", "replyTo", "sender", "subject", "sentAt", "receivedAt", "hasAttachment", "blobId", "size",
  "textBody", "htmlBody", "attachments", "bodyValues", "preview"];
const BODY_PROPS = ["partId", "blobId", "size", "name", "type", "charset", "disposition", "cid"];
const MAX_BODY = 512 * 1024;

export class Reader {
  constructor(app) {
    this.app = app;
    this.root = el("section", { class: "readerpane", "data-test": "reader", "aria-label": t("core.reader"), tabindex: "-1" });
    this.email = null;
    this.showEmpty();
  }

  showEmpty() {
    this.email = null;
    this.thread = null;
    this.root.textContent = "";
    this.root.classList.add("is-empty");
    this.root.append(el("div", { class: "reader-empty" }, icon("i-mail", "big"), el("p", { text: t("core.noMessageOpen") })));
  }

  async fetchEmails(ids) {
    const r = await this.app.api.get("Email", ids, READER_PROPS, {
      fetchTextBodyValues: true, maxBodyValueBytes: MAX_BODY, bodyProperties: BODY_PROPS,
    });
    return r.list;
  }

  // openEmail shows one message.
  async openEmail(id) {
    const token = (this.token = {});
    this.loading();
    let list;
    try {
      list = await this.fetchEmails([id]);
    } catch (e) {
      if (token === this.token) this.error(e.message);
      return null;
    }
    if (token !== this.token) return null;
    if (!list.length) {
      this.error(t("core.notFound"));
      return null;
    }
    const email = list[0];
    this.email = email;
    this.thread = null;
    this.render([email], email.id);
    this.app.markRead(email);
    return email;
  }

  // openThread shows a conversation; openId (or the newest unread, or the
  // newest) is expanded.
  async openThread(threadId, openId) {
    const token = (this.token = {});
    this.loading();
    let emails;
    try {
      const th = await this.app.api.get("Thread", [threadId]);
      if (!th.list.length) throw new Error(t("core.notFound"));
      const ids = th.list[0].emailIds.slice(-100);
      emails = await this.fetchEmails(ids);
    } catch (e) {
      if (token === this.token) this.error(e.message);
      return null;
    }
    if (token !== this.token) return null;
    const trash = this.app.mailboxes.byRole("trash");
    const shown = emails.filter((e) => !(trash && e.mailboxIds[trash.id]) || Object.keys(e.mailboxIds).length > 1);
    if (shown.length) emails = shown;
    const unread = emails.find((e) => !e.keywords.$seen);
    const focus = (openId && emails.find((e) => e.id === openId)) || unread || emails[emails.length - 1];
    this.email = focus;
    this.thread = emails;
    this.render(emails, focus.id);
    for (const e of emails) if (!e.keywords.$seen) this.app.markRead(e);
    return focus;
  }

  loading() {
    this.root.classList.remove("is-empty");
    this.root.textContent = "";
    this.root.append(el("p", { class: "loading", text: t("core.loading") }));
  }

  error(msg) {
    this.root.textContent = "";
    this.root.append(el("p", { class: "error", text: t("core.loadError", { reason: msg }) }));
  }

  render(emails, focusId) {
    this.root.classList.remove("is-empty");
    this.root.textContent = "";
    const focus = emails.find((e) => e.id === focusId) || emails[0];
    this.root.append(this.actionBar(focus));
    const head = el("header", { class: "reader-head" },
      el("h1", { class: "reader-subject", "data-test": "reader-subject", text: focus.subject || t("core.noSubject") }));
    if (emails.length > 1) head.append(el("span", { class: "thread-size", text: t("core.messagesInThread", { count: emails.length }) }));
    this.root.append(head);
    const body = el("div", { class: "reader-body" });
    for (const e of emails) body.append(this.message(e, e.id === focus.id || emails.length === 1));
    this.root.append(body);
    const open = body.querySelector(".message.expanded");
    if (open && emails.length > 1) open.scrollIntoView({ block: "nearest" });
  }

  actionBar(e) {
    const a = this.app.actions;
    const mb = this.app.mailboxes;
    const inRole = (role) => {
      const m = mb.byRole(role);
      return m && e.mailboxIds[m.id];
    };
    const flagged = !!e.keywords.$flagged;
    const bar = el("div", { class: "toolbar reader-toolbar" });
    bar.append(button({ icon: "i-back", label: t("core.back"), test: "reader-back", iconOnly: true, cls: "back", onClick: () => this.app.back() }));
    bar.append(
      button({ icon: "i-reply", label: t("core.reply"), test: "action-reply", iconOnly: true, onClick: () => this.app.navigate("/compose?reply=" + e.id) }),
      button({ icon: "i-reply-all", label: t("core.replyAll"), test: "action-reply-all", iconOnly: true, onClick: () => this.app.navigate("/compose?replyAll=" + e.id) }),
      button({ icon: "i-forward", label: t("core.forward"), test: "action-forward", iconOnly: true, onClick: () => this.app.navigate("/compose?forward=" + e.id) }),
      el("span", { class: "sep" }),
      button({ icon: "i-archive", label: t("core.archive"), test: "action-archive", iconOnly: true, onClick: () => a.archive(this.ids(), { advance: true }) }),
      button({ icon: "i-trash", label: inRole("trash") ? t("core.deleteForever") : t("core.delete"), test: "action-delete", iconOnly: true, onClick: () => a.trash(this.ids(), { advance: true }) }),
      button({ icon: "i-junk", label: inRole("junk") ? t("core.notJunk") : t("core.junk"), test: "action-junk", iconOnly: true, onClick: () => (inRole("junk") ? a.notJunk(this.ids(), { advance: true }) : a.junk(this.ids(), { advance: true })) }),
    );
    const mv = button({ icon: "i-move", label: t("core.moveTo"), test: "action-move", iconOnly: true });
    mv.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.app.moveMenu(mv, async () => this.ids(), { advance: true });
    });
    bar.append(mv,
      button({ icon: flagged ? "i-star-on" : "i-star", label: flagged ? t("core.unflag") : t("core.flag"), test: "action-flag", iconOnly: true, cls: flagged ? "on" : "", onClick: () => a.setKeyword(this.ids(), "$flagged", !flagged) }),
      button({ icon: "i-unread", label: t("core.markUnread"), test: "action-unread", iconOnly: true, onClick: () => {
        a.setKeyword(this.ids(), "$seen", false);
        this.app.back();
      } }),
    );
    return bar;
  }

  // ids: what the action bar acts on (the whole conversation when one is open).
  ids() {
    if (this.thread) return this.thread.map((e) => e.id);
    return this.email ? [this.email.id] : [];
  }

  message(e, expanded) {
    const art = el("article", { class: "message" + (expanded ? " expanded" : ""), "data-test": "reader-message", "data-id": e.id });
    const from = (e.from || [])[0];
    const summary = el("button", { type: "button", class: "msg-head", "aria-expanded": String(expanded) },
      el("span", { class: "avatar", "aria-hidden": "true", text: (displayAddr(from) || "?").trim().slice(0, 1).toUpperCase() }),
      el("span", { class: "msg-from" },
        el("strong", { "data-test": "reader-from", text: displayAddr(from) || t("core.noSender") }),
        from && from.name ? el("span", { class: "addr", text: " <" + from.email + ">" }) : null),
      el("time", { class: "msg-date", datetime: e.receivedAt, text: formatDate(e.sentAt || e.receivedAt, "full") }));
    art.append(summary);
    const details = el("div", { class: "msg-details" });
    if (!expanded) details.append(el("p", { class: "preview", text: e.preview || "" }));
    art.append(details);
    let filled = false;
    const fill = () => {
      if (filled) return;
      filled = true;
      details.textContent = "";
      details.append(this.headerTable(e), this.bodyOf(e), this.attachmentsOf(e), this.footer(e));
    };
    if (expanded) fill();
    summary.addEventListener("click", () => {
      const open = !art.classList.contains("expanded");
      art.classList.toggle("expanded", open);
      summary.setAttribute("aria-expanded", String(open));
      if (open) fill();
      else {
        filled = false;
        details.textContent = "";
        details.append(el("p", { class: "preview", text: e.preview || "" }));
      }
    });
    return art;
  }

  headerTable(e) {
    const dl = el("dl", { class: "msg-addrs" });
    const row = (label, list) => {
      if (!list || !list.length) return;
      dl.append(el("dt", { text: label }), el("dd", { text: addrList(list) }));
    };
    row(t("core.hdrTo"), e.to);
    row(t("core.hdrCc"), e.cc);
    row(t("core.hdrBcc"), e.bcc);
    row(t("core.hdrReplyTo"), e.replyTo);
    return dl;
  }

  footer(e) {
    const f = el("div", { class: "msg-foot" });
    if (e.id && !e.parsed) {
      f.append(el("a", { class: "btn link", href: "/webmail/raw/" + encodeURIComponent(e.id), target: "_blank", rel: "noopener noreferrer", "data-test": "show-raw", text: t("core.showRaw") }));
    }
    return f;
  }

  bodyOf(e) {
    const wrap = el("div", { class: "msg-body" });
    const html = (e.htmlBody || []).some((p) => p.type === "text/html");
    if (html && !e.parsed) {
      this.htmlBody(e, wrap);
      return wrap;
    }
    const text = el("div", { class: "text-body", "data-test": "reader-text" });
    for (const part of e.textBody || []) {
      const v = e.bodyValues && e.bodyValues[part.partId];
      if (!v) continue;
      let value = v.value;
      if (part.type === "text/html") value = htmlToText(value);
      text.append(renderPlain(value));
      if (v.isTruncated) text.append(el("p", { class: "note", text: t("core.truncated") }));
    }
    wrap.append(text);
    return wrap;
  }

  htmlBody(e, wrap) {
    const sender = ((e.from || [])[0] || {}).email || "";
    const bar = el("div", { class: "remote-bar", "data-test": "remote-blocked", hidden: true });
    const frame = el("iframe", {
      class: "html-body",
      "data-test": "reader-html",
      sandbox: "allow-popups allow-popups-to-escape-sandbox",
      referrerpolicy: "no-referrer",
      title: t("core.messageBody"),
    });
    const load = async (remote) => {
      const url = `/webmail/html/${encodeURIComponent(e.id)}?remote=${remote ? 1 : 0}`;
      frame.src = url;
      bar.hidden = true;
      if (remote) return;
      try {
        let resp = await fetch(url, { method: "HEAD", credentials: "same-origin" });
        if (resp.status === 405 || resp.status === 501) resp = await fetch(url, { credentials: "same-origin" });
        const n = parseInt(resp.headers.get("X-Postern-Blocked-Remote") || "0", 10);
        if (n > 0) {
          bar.hidden = false;
          bar.textContent = "";
          bar.append(icon("i-shield"),
            el("span", { class: "grow", text: t("core.remoteBlocked", { count: n }) }),
            el("button", { type: "button", class: "btn", "data-test": "allow-remote-once", text: t("core.allowOnce"), onClick: () => load(true) }),
            sender ? el("button", { type: "button", class: "btn", "data-test": "allow-remote-sender", text: t("core.allowSender", { sender }), onClick: async () => {
              try {
                await this.app.api.fetchJSON("/webmail/prefs", { method: "POST", body: { trustSender: sender } });
              } catch (err) {
                this.app.notify("core.actionFailed", { params: { reason: err.message } });
              }
              load(true);
            } }) : null);
        }
      } catch (err) { /* the bar is a convenience */ }
    };
    wrap.append(bar, frame);
    // The sandbox hides the document's height from us, so the frame takes
    // the height of the pane: one scroll inside it reads the whole mail.
    const fit = () => {
      const pane = this.root.querySelector(".reader-body");
      if (pane && frame.isConnected) frame.style.height = Math.max(320, pane.clientHeight - 32) + "px";
    };
    requestAnimationFrame(fit);
    if (!this.fitObserver) {
      this.fitObserver = new ResizeObserver(() => {
        for (const f of this.root.querySelectorAll("iframe.html-body")) {
          const pane = this.root.querySelector(".reader-body");
          if (pane) f.style.height = Math.max(320, pane.clientHeight - 32) + "px";
        }
      });
      this.fitObserver.observe(this.root);
    }
    load(false);
  }

  attachmentsOf(e) {
    const atts = (e.attachments || []).filter((a) => !(a.disposition === "inline" && a.cid && (e.htmlBody || []).some((p) => p.type === "text/html")));
    const box = el("ul", { class: "attachments", "aria-label": t("core.attachments") });
    if (!atts.length) return box;
    const api = this.app.api;
    for (const a of atts) {
      const name = a.name || (a.type === "message/rfc822" ? t("core.attachedMessage") + ".eml" : t("core.unnamed"));
      const href = api.downloadURL(a.blobId, name, a.type);
      const li = el("li", { class: "attachment", "data-test": "attachment" });
      const isImage = /^image\/(png|jpeg|gif|webp|bmp)$/i.test(a.type);
      if (isImage) {
        li.append(el("img", { class: "thumb", src: href, alt: "", loading: "lazy" }));
      } else {
        li.append(icon(a.type === "message/rfc822" ? "i-mail" : a.type === "application/pdf" ? "i-pdf" : "i-file", "file-icon"));
      }
      li.append(el("span", { class: "att-name", text: name }), el("span", { class: "att-size", text: formatSize(a.size) }));
      const acts = el("span", { class: "att-actions" });
      if (isImage || a.type === "application/pdf") {
        acts.append(el("button", { type: "button", class: "btn link", "data-test": "attachment-preview", text: t("core.preview"), onClick: () => this.preview(a, name, href) }));
      }
      if (a.type === "message/rfc822") {
        acts.append(el("button", { type: "button", class: "btn link", "data-test": "attachment-open", text: t("core.open"), onClick: () => this.openAttached(a) }));
      }
      acts.append(el("a", { class: "btn link", href, download: name, "data-test": "attachment-download", text: t("core.download") }));
      li.append(acts);
      box.append(li);
    }
    return box;
  }

  async preview(a, name, href) {
    if (a.type === "application/pdf") {
      // The download is an attachment; a blob: URL lets the browser's own
      // viewer show it in a new tab.
      // Opened now, while the click still allows a new tab; filled below.
      const w = window.open("", "_blank");
      if (w) w.opener = null;
      try {
        const resp = await fetch(href, { credentials: "same-origin" });
        const blob = new Blob([await resp.arrayBuffer()], { type: "application/pdf" });
        const url = URL.createObjectURL(blob);
        if (w) w.location = url;
        else window.open(url, "_blank");
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (e) {
        if (w) w.close();
        this.app.notify("core.actionFailed", { params: { reason: e.message } });
      }
      return;
    }
    await dialog({ title: name, test: "attachment-viewer", body: el("img", { class: "preview-img", src: href, alt: name }), buttons: [{ label: t("core.close"), value: "close", primary: true, submit: true }] });
  }

  // openAttached shows an attached message (Email/parse) over the pane.
  async openAttached(a) {
    let parsed;
    try {
      const r = await this.app.api.one("Email/parse", {
        blobIds: [a.blobId],
        properties: ["from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "textBody", "htmlBody", "attachments", "bodyValues", "preview"],
        bodyProperties: BODY_PROPS, fetchTextBodyValues: true, maxBodyValueBytes: MAX_BODY,
      });
      parsed = r.parsed && r.parsed[a.blobId];
      if (!parsed) throw new Error(t("core.cannotParse"));
    } catch (e) {
      this.app.notify("core.actionFailed", { params: { reason: e.message } });
      return;
    }
    parsed.parsed = true;
    parsed.keywords = {};
    parsed.mailboxIds = {};
    const body = el("div", { class: "attached-message", "data-test": "attached-message" });
    body.append(el("h3", { class: "reader-subject", text: parsed.subject || t("core.noSubject") }), this.message(parsed, true));
    await dialog({ title: t("core.attachedMessage"), body, buttons: [{ label: t("core.close"), value: "close", primary: true, submit: true }], test: "attached-viewer" });
  }
}

// renderPlain: text with links made clickable and quoted blocks folded.
export function renderPlain(text) {
  const frag = document.createDocumentFragment();
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    if (/^\s*>/.test(lines[i])) {
      const block = [];
      while (i < lines.length && (/^\s*>/.test(lines[i]) || (lines[i].trim() === "" && i + 1 < lines.length && /^\s*>/.test(lines[i + 1])))) block.push(lines[i++]);
      const det = el("details", { class: "quote", "data-test": "quoted-text" },
        el("summary", { text: t("core.showQuoted", { count: block.length }) }));
      const pre = el("div", { class: "quoted" });
      appendLinked(pre, block.join("\n"));
      det.append(pre);
      frag.append(det);
      continue;
    }
    const block = [];
    while (i < lines.length && !/^\s*>/.test(lines[i])) block.push(lines[i++]);
    const p = el("div", { class: "plain" });
    appendLinked(p, block.join("\n"));
    frag.append(p);
  }
  return frag;
}

const LINK_RE = /\b(https?:\/\/[^\s<>"]+|www\.[^\s<>"]+|mailto:[^\s<>"]+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

function appendLinked(node, text) {
  let last = 0;
  let m;
  LINK_RE.lastIndex = 0;
  while ((m = LINK_RE.exec(text)) !== null) {
    let url = m[0].replace(/[.,;:!?)\]}'"]+$/, "");
    if (!url) continue;
    node.append(text.slice(last, m.index));
    let href = url;
    if (/^www\./i.test(url)) href = "https://" + url;
    else if (!/^(https?|mailto):/i.test(url)) href = "mailto:" + url;
    if (/^mailto:/i.test(href)) {
      const addr = href.slice(7);
      node.append(el("a", { href: "/compose?to=" + encodeURIComponent(addr), "data-compose": "1", text: url }));
    } else {
      node.append(el("a", { href, target: "_blank", rel: "noopener noreferrer", text: url }));
    }
    last = m.index + url.length;
    LINK_RE.lastIndex = last;
  }
  node.append(text.slice(last));
}

// htmlToText: the text of an HTML body for places that show no HTML (an
// attached message). DOMParser documents run no script and load nothing.
function htmlToText(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const b of doc.querySelectorAll("br")) b.replaceWith("\n");
  for (const p of doc.querySelectorAll("p, div, li, tr, h1, h2, h3, h4")) p.append("\n");
  return (doc.body ? doc.body.textContent : "").replace(/\n{3,}/g, "\n\n").trim();
}
