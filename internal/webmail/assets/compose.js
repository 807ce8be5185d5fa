// The compose view (/compose): new messages, replies, forwards and
// drafts. Everything is JMAP: the draft is an Email in the Drafts mailbox
// with $draft, saved every few seconds (a new Email each time, the old one
// destroyed, since an Email cannot change); sending is an EmailSubmission
// of that draft which moves it to Sent. The submission waits UNDO_MS in
// the browser first, so "undo" simply reopens the draft.

import {
  h, call, accountId, mailboxes, byRole, parseAddresses, formatAddresses, validEmail,
  importRich, richToText, textToRich, htmlToText, formatSize, addCSS, MethodError, suggest,
} from "./compose-common.js";

const AUTOSAVE_MS = 4000;
const UNDO_MS = 5000;
const MAX_QUOTE_BYTES = 512 * 1024;
const MODE_KEY = "postern.compose.mode";

const ORIGINAL_PROPS = ["messageId", "inReplyTo", "references", "from", "to", "cc", "bcc", "replyTo", "subject",
  "sentAt", "receivedAt", "textBody", "htmlBody", "attachments", "bodyValues", "blobId", "size", "keywords", "mailboxIds"];

// Saves that outlive their view (a save on leaving), and which draft
// replaced which: a view opened meanwhile on the old id (the frame
// redraws on a language switch) opens the new one.
let lastSave = Promise.resolve();
const replacedDrafts = new Map();
// handoff is the save of a view unmounted while its URL stayed (a redraw,
// not a navigation): the next view at that URL opens the saved draft.
let handoff = null; // {url, promise of the draft id}

// Past correspondents, gathered once per account and page load.
let correspondents = null; // {accountId, promise: Promise<[{name, email, score}]>}

function loadCorrespondents(ctx) {
  const acct = accountId(ctx);
  if (correspondents?.accountId === acct) return correspondents.promise;
  const promise = (async () => {
    const boxes = await mailboxes(ctx);
    const calls = [];
    const add = (box, tag, limit) => {
      if (!box) return;
      calls.push(["Email/query", { accountId: acct, filter: { inMailbox: box.id }, sort: [{ property: "receivedAt", isAscending: false }], limit }, "q" + tag]);
      calls.push(["Email/get", { accountId: acct, "#ids": { resultOf: "q" + tag, name: "Email/query", path: "/ids" }, properties: ["from", "to", "cc", "bcc"] }, "g" + tag]);
    };
    add(byRole(boxes, "sent"), "s", 300);
    add(byRole(boxes, "inbox"), "i", 300);
    if (!calls.length) return [];
    const r = await call(ctx, calls);
    const seen = new Map();
    const note = (list, weight) => {
      for (const a of list || []) {
        if (!a?.email || !validEmail(a.email)) continue;
        const key = a.email.toLowerCase();
        const cur = seen.get(key) || { name: "", email: a.email, score: 0 };
        cur.score += weight;
        if (!cur.name && a.name) cur.name = a.name;
        seen.set(key, cur);
      }
    };
    if (calls.some((c) => c[2] === "gs")) {
      for (const e of r.pick("gs").list) {
        note(e.to, 3);
        note(e.cc, 2);
        note(e.bcc, 2);
      }
    }
    if (calls.some((c) => c[2] === "gi")) {
      for (const e of r.pick("gi").list) {
        note(e.from, 1);
        note(e.cc, 0.2);
      }
    }
    return [...seen.values()].sort((a, b) => b.score - a.score);
  })();
  promise.catch(() => (correspondents = null));
  correspondents = { accountId: acct, promise };
  return promise;
}

let toastSeq = 0;

// undoToast shows the "sending" notice with its undo button; it goes when
// the timer fires or undo is pressed. The frame's notify is used when it
// offers an undo-send button; otherwise this one is shown.
function undoToast(ctx, onUndo) {
  let el = null;
  const frame = ctx.notify ? ctx.notify("compose.sending", { undo: onUndo, timeout: UNDO_MS }) : null;
  const close = () => {
    frame?.close?.();
    el?.remove();
  };
  queueMicrotask(() => {
    if (document.querySelector('[data-test="undo-send"]')) return;
    el = h("div", { class: "compose-toast", role: "status", id: "compose-toast-" + ++toastSeq, data: { test: "toast" } },
      h("span", { text: ctx.t("compose.sending") }),
      h("button", { type: "button", data: { test: "undo-send" }, text: ctx.t("compose.undo"), on: { click: () => { close(); onUndo(); } } }));
    document.body.append(el);
  });
  return close;
}

export function mount(el, ctx) {
  addCSS("compose.css");
  const c = new Composer(el, ctx);
  c.start().catch((err) => c.fail(err));
  return { unmount: () => c.unmount() };
}

class Composer {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.t = ctx.t;
    this.acct = accountId(ctx);
    this.identities = [];
    this.attachments = []; // {blobId?, type, name, size, disposition, cid?, upload?: {xhrDone, progress}}
    this.draftId = null;
    this.inReplyTo = null;
    this.references = null;
    this.answering = null; // the email replied to, $answered after sending
    this.forwarding = null; // the email forwarded, $forwarded after sending
    this.dirty = false;
    this.saving = null;
    this.closed = false;
    this.sent = false;
    this.signature = null; // {text} or {node}: the one inserted, to swap on identity change
    this.mode = localStorage.getItem(MODE_KEY) === "rich" ? "rich" : "plain";
  }

  // --- building the form -------------------------------------------------

  build() {
    const t = this.t;
    const field = (name, label, input) =>
      h("div", { class: "compose-row" }, h("label", { for: "compose-" + name, text: label }), input);
    this.from = h("select", { id: "compose-from", data: { test: "compose-from" }, on: { change: () => this.identityChanged() } });
    this.to = this.addressInput("to");
    this.cc = this.addressInput("cc");
    this.bcc = this.addressInput("bcc");
    this.subject = h("input", { id: "compose-subject", type: "text", data: { test: "compose-subject" }, autocomplete: "off", maxlength: "998", on: { input: () => this.changed() } });

    this.text = h("textarea", { class: "compose-text", "aria-label": t("compose.body"), rows: "16", on: { input: () => this.changed(true) } });
    this.rich = h("div", { class: "compose-rich", contenteditable: "true", role: "textbox", "aria-multiline": "true", "aria-label": t("compose.body"),
      on: { input: () => this.changed(true), paste: (e) => this.paste(e), keydown: (e) => this.richKey(e) } });
    const tool = (cmd, key, label) => h("button", { type: "button", class: "compose-tool compose-tool-" + cmd, "aria-label": t(key), title: t(key), text: label, on: { mousedown: (e) => e.preventDefault(), click: () => this.format(cmd) } });
    this.toolbar = h("div", { class: "compose-toolbar", role: "toolbar", "aria-label": t("compose.formatting") },
      tool("bold", "compose.bold", "B"), tool("italic", "compose.italic", "I"), tool("link", "compose.link", this.t("compose.linkButton")),
      tool("ul", "compose.bulletList", "•"), tool("ol", "compose.numberedList", "1."), tool("quote", "compose.quote", "❝"));
    this.modeButton = h("button", { type: "button", class: "compose-mode", data: { test: "compose-mode" }, on: { click: () => this.setMode(this.mode === "rich" ? "plain" : "rich", true) } });

    this.fileInput = h("input", { type: "file", multiple: true, id: "compose-attach", class: "compose-file", data: { test: "compose-attach" }, on: { change: () => { this.addFiles(this.fileInput.files); this.fileInput.value = ""; } } });
    this.chips = h("ul", { class: "compose-attachments", "aria-label": t("compose.attachments") });
    this.status = h("span", { class: "compose-status", role: "status", "aria-live": "polite", data: { test: "draft-saved" } });
    this.error = h("p", { class: "compose-error", role: "alert", hidden: true });
    this.sendButton = h("button", { type: "submit", class: "compose-send compose-primary", data: { test: "compose-send" }, text: t("compose.send") });

    this.form = h("form", { class: "compose", data: { test: "compose-form" }, "aria-label": t("compose.title"), novalidate: true,
      on: { submit: (e) => { e.preventDefault(); this.send(); }, keydown: (e) => this.formKey(e), dragover: (e) => this.dragOver(e), dragleave: () => this.form.classList.remove("compose-drop"), drop: (e) => this.drop(e) } },
      h("h1", { class: "compose-title", text: t("compose.title") }),
      field("from", t("compose.from"), this.from),
      field("to", t("compose.to"), this.to.box),
      field("cc", t("compose.cc"), this.cc.box),
      field("bcc", t("compose.bcc"), this.bcc.box),
      field("subject", t("compose.subject"), this.subject),
      h("div", { class: "compose-bar" }, this.toolbar, this.modeButton),
      this.text, this.rich,
      h("div", { class: "compose-attach-row" },
        h("label", { class: "compose-attach-label compose-button", for: "compose-attach", text: t("compose.attach") }), this.fileInput,
        h("span", { class: "compose-drop-hint", text: t("compose.dropHint") })),
      this.chips, this.error,
      h("div", { class: "compose-actions" }, this.sendButton,
        h("button", { type: "button", class: "compose-discard", data: { test: "compose-discard" }, text: t("compose.discard"), on: { click: () => this.discard() } }),
        this.status));
    this.el.replaceChildren(this.form);
    this.setMode(this.mode, false);
  }

  // addressInput is an address field with suggestions from past
  // correspondents (a combobox with a listbox under it).
  addressInput(name) {
    const listId = "compose-suggest-" + name;
    const input = h("input", { id: "compose-" + name, type: "text", autocomplete: "off", spellcheck: "false", data: { test: "compose-" + name },
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": listId });
    const list = h("ul", { id: listId, class: "compose-suggest", role: "listbox", hidden: true });
    const box = h("div", { class: "compose-address" }, input, list);
    const state = { input, list, box, items: [], active: -1 };
    const close = () => {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      state.items = [];
    };
    const choose = (i) => {
      const c = state.items[i];
      if (!c) return;
      const cut = Math.max(input.value.lastIndexOf(","), input.value.lastIndexOf(";"));
      const before = cut >= 0 ? input.value.slice(0, cut + 1) + " " : "";
      input.value = before + formatAddresses([c]) + ", ";
      close();
      input.focus();
      this.changed();
    };
    const highlight = (i) => {
      state.active = i;
      [...list.children].forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
      if (i >= 0) input.setAttribute("aria-activedescendant", `${listId}-${i}`);
    };
    const show = async () => {
      const all = await loadCorrespondents(this.ctx).catch(() => []);
      const cut = Math.max(input.value.lastIndexOf(","), input.value.lastIndexOf(";"));
      const query = input.value.slice(cut + 1);
      const have = new Set(parseAddresses(input.value.slice(0, cut + 1)).map((a) => a.email.toLowerCase()));
      state.items = suggest(all, query, have);
      if (!state.items.length || document.activeElement !== input) return close();
      list.replaceChildren(...state.items.map((c, i) =>
        h("li", { id: `${listId}-${i}`, role: "option", class: "compose-suggestion", data: { test: "compose-suggestion" }, "aria-selected": "false",
          on: { mousedown: (e) => { e.preventDefault(); choose(i); } } },
          c.name ? h("span", { class: "compose-suggest-name", text: c.name }) : null,
          h("span", { class: "compose-suggest-email", text: c.email }))));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(0);
    };
    input.addEventListener("input", () => { this.changed(); show(); });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", (e) => {
      if (list.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = state.items.length;
        highlight((state.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
      } else if ((e.key === "Enter" || e.key === "Tab") && state.active >= 0) {
        e.preventDefault();
        choose(state.active);
      } else if (e.key === "Escape") {
        e.stopPropagation();
        close();
      }
    });
    return state;
  }

  // --- starting ----------------------------------------------------------

  async start() {
    this.build();
    let p = this.ctx.params || new URLSearchParams();
    const here = location.pathname + location.search;
    if (handoff?.url === here) {
      const saved = await handoff.promise.catch(() => null);
      handoff = null;
      if (saved) {
        history.replaceState(history.state, "", "/compose?draft=" + encodeURIComponent(saved));
        p = new URLSearchParams({ draft: saved });
      }
    }
    const [boxes, ids] = await Promise.all([
      mailboxes(this.ctx),
      call(this.ctx, [["Identity/get", { accountId: this.acct }, "i"]]).then((r) => r.pick("i").list),
    ]);
    if (this.closed) return;
    this.boxes = boxes;
    this.identities = ids;
    for (const id of ids) {
      this.from.append(h("option", { value: id.id, text: id.name ? `${id.name} <${id.email}>` : id.email }));
    }
    const own = new Set(ids.map((i) => i.email.toLowerCase()));
    this.own = own;

    let preferFrom = null;
    const kindTitle = { reply: "titleReply", replyAll: "titleReply", forward: "titleForward", forwardAsAttachment: "titleForward", draft: "titleDraft" };
    const kindNow = Object.keys(kindTitle).find((k) => p.get(k));
    if (kindNow) this.form.querySelector(".compose-title").textContent = this.t("compose." + kindTitle[kindNow]);
    if (p.get("draft")) {
      await lastSave.catch(() => {});
      let id = p.get("draft");
      for (let n = 0; replacedDrafts.has(id) && n < 100; n++) id = replacedDrafts.get(id);
      await this.openDraft(id);
    } else {
      const kind = ["reply", "replyAll", "forward", "forwardAsAttachment"].find((k) => p.get(k));
      if (kind) preferFrom = await this.openOriginal(kind, p.get(kind));
      if (p.get("to")) this.to.input.value = formatAddresses(parseAddresses(p.get("to")).filter((a) => a.ok));
      if (p.get("subject") && !kind) this.subject.value = p.get("subject");
      if (p.get("body") && !kind) this.setBodyText(p.get("body"));
    }
    const pick = (preferFrom && ids.find((i) => preferFrom.has(i.email.toLowerCase()))) ||
      ids.find((i) => i.email.toLowerCase() === (this.ctx.account?.username || "").toLowerCase()) || ids[0];
    if (this.fromEmail) {
      const d = ids.find((i) => i.email.toLowerCase() === this.fromEmail.toLowerCase());
      if (d) this.from.value = d.id;
    } else if (pick) {
      this.from.value = pick.id;
      this.insertSignature(pick);
    }
    this.dirty = false;
    // The first time the body gets focus, the caret goes above the
    // signature or the quoted original, wherever the click landed: on
    // focus (keyboard) and again on the mouseup of a click.
    const caretTop = () => {
      if (this.bodyEdited) return;
      if (this.mode === "plain") return this.text.setSelectionRange(0, 0);
      if (!this.rich.firstChild) return;
      const r = document.createRange();
      r.setStart(this.rich.firstChild, 0);
      r.collapse(true);
      const sel = document.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
    };
    const top = (e) => {
      this.text.removeEventListener("focus", top);
      this.rich.removeEventListener("focus", top);
      if (this.bodyEdited || !(this.signature || this.answering || this.forwarding)) return;
      caretTop();
      e.target.addEventListener("mouseup", caretTop, { once: true });
    };
    this.text.addEventListener("focus", top);
    this.rich.addEventListener("focus", top);
    this.timer = setInterval(() => this.autosave(), AUTOSAVE_MS);
    this.onSelection = () => this.saveRange();
    document.addEventListener("selectionchange", this.onSelection);
    this.onHide = () => { if (document.visibilityState === "hidden") this.autosave(); };
    document.addEventListener("visibilitychange", this.onHide);
    window.addEventListener("pagehide", this.onHide);
    (this.to.input.value ? (p.get("reply") || p.get("replyAll") ? this.bodyElement() : this.subject) : this.to.input).focus();
    if (this.mode === "plain" && (p.get("reply") || p.get("replyAll"))) this.text.setSelectionRange(0, 0);
    loadCorrespondents(this.ctx).catch(() => {});
  }

  fail(err) {
    if (this.closed) return;
    console.error(err);
    this.showError(err instanceof MethodError ? this.t("compose.error.server", { type: err.type }) : this.t("compose.error.load"));
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  async fetchEmail(id, all) {
    const r = await call(this.ctx, [["Email/get", { accountId: this.acct, ids: [id], properties: ORIGINAL_PROPS,
      fetchTextBodyValues: !all, fetchAllBodyValues: !!all, maxBodyValueBytes: MAX_QUOTE_BYTES }, "e"]]);
    const e = r.pick("e").list[0];
    if (!e) throw new MethodError({ type: "notFound", description: id });
    return e;
  }

  // bodyText is the text of an email's textBody (HTML parts read as text).
  bodyText(e, parts = e.textBody) {
    return (parts || []).map((p) => {
      const v = e.bodyValues?.[p.partId]?.value ?? "";
      return p.type === "text/html" ? htmlToText(v) : v;
    }).join("\n");
  }

  async openOriginal(kind, id) {
    const t = this.t;
    const e = await this.fetchEmail(id, false);
    const subject = e.subject || "";
    const date = new Intl.DateTimeFormat(this.ctx.lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(e.sentAt || e.receivedAt));
    const sender = formatAddresses(e.from);
    const text = this.bodyText(e);
    if (kind === "reply" || kind === "replyAll") {
      const to = e.replyTo?.length ? e.replyTo : e.from || [];
      let cc = [];
      if (kind === "replyAll") {
        const seen = new Set(to.map((a) => a.email.toLowerCase()));
        const others = [...(e.to || []), ...(e.cc || [])].filter((a) => {
          const k = a.email?.toLowerCase();
          if (!k || seen.has(k) || this.own.has(k)) return false;
          seen.add(k);
          return true;
        });
        cc = others;
      }
      // Replying to one's own message goes to its recipients instead.
      const mine = to.length && to.every((a) => this.own.has(a.email.toLowerCase()));
      this.to.input.value = formatAddresses(mine ? e.to : to);
      this.cc.input.value = formatAddresses(cc);
      this.subject.value = /^re:/i.test(subject) ? subject : "Re: " + subject;
      if (e.messageId?.length) {
        this.inReplyTo = e.messageId;
        this.references = [...(e.references || e.inReplyTo || []), ...e.messageId].slice(-50);
      }
      this.answering = id;
      const quoted = text.replace(/\n+$/, "").split("\n").map((l) => (l.startsWith(">") ? ">" + l : "> " + l)).join("\n");
      this.setBodyText("\n\n" + t("compose.quoteHeader", { date, sender }) + "\n" + quoted + "\n");
    } else {
      this.subject.value = /^(fwd?|fw):/i.test(subject) ? subject : "Fwd: " + subject;
      this.forwarding = id;
      if (e.messageId?.length) this.references = [...(e.references || []), ...e.messageId].slice(-50);
      if (kind === "forward") {
        const head = [
          t("compose.forwardHeader"),
          t("compose.forwardFrom", { value: sender }),
          t("compose.forwardDate", { value: date }),
          t("compose.forwardSubject", { value: subject }),
          t("compose.forwardTo", { value: formatAddresses(e.to) }),
        ];
        if (e.cc?.length) head.push(t("compose.forwardCc", { value: formatAddresses(e.cc) }));
        this.setBodyText("\n\n" + head.join("\n") + "\n\n" + text);
        for (const a of e.attachments || []) {
          this.addChip({ blobId: a.blobId, type: a.type, name: a.name || "", size: a.size, disposition: a.disposition || "attachment", cid: a.cid || undefined });
        }
      } else {
        this.addChip({ blobId: e.blobId, type: "message/rfc822", name: (subject || "message").replace(/[\\/:*?"<>|]+/g, "_").slice(0, 100) + ".eml", size: e.size, disposition: "attachment" });
        this.setBodyText("");
      }
    }
    return new Set([...(e.to || []), ...(e.cc || [])].map((a) => a.email?.toLowerCase()));
  }

  async openDraft(id) {
    const e = await this.fetchEmail(id, true);
    this.draftId = id;
    this.fromEmail = e.from?.[0]?.email || null;
    this.to.input.value = formatAddresses(e.to);
    this.cc.input.value = formatAddresses(e.cc);
    this.bcc.input.value = formatAddresses(e.bcc);
    this.subject.value = e.subject || "";
    this.inReplyTo = e.inReplyTo;
    this.references = e.references;
    const html = (e.htmlBody || []).filter((p) => p.type === "text/html");
    if (html.length) {
      this.setMode("rich", false);
      this.rich.replaceChildren(...html.map((p) => importRich(e.bodyValues?.[p.partId]?.value ?? "")));
    } else {
      this.setMode("plain", false);
      this.text.value = this.bodyText(e);
    }
    for (const a of e.attachments || []) {
      this.addChip({ blobId: a.blobId, type: a.type, name: a.name || "", size: a.size, disposition: a.disposition || "attachment", cid: a.cid || undefined });
    }
  }

  // --- body --------------------------------------------------------------

  bodyElement() {
    return this.mode === "rich" ? this.rich : this.text;
  }

  setBodyText(text) {
    if (this.mode === "rich") this.rich.replaceChildren(textToRich(text));
    else this.text.value = text;
  }

  setMode(mode, convert) {
    if (convert && mode !== this.mode) {
      if (mode === "rich") this.rich.replaceChildren(textToRich(this.text.value));
      else this.text.value = richToText(this.rich);
      localStorage.setItem(MODE_KEY, mode);
      this.changed();
      this.signature = null;
    }
    this.mode = mode;
    const rich = mode === "rich";
    this.rich.hidden = !rich;
    this.toolbar.hidden = !rich;
    this.text.hidden = rich;
    // The visible body carries the test hook.
    this.rich.toggleAttribute("data-test", rich);
    this.text.toggleAttribute("data-test", !rich);
    (rich ? this.rich : this.text).dataset.test = "compose-body";
    this.modeButton.textContent = this.t(rich ? "compose.plainMode" : "compose.richMode");
    if (convert) this.bodyElement().focus();
  }

  // The caret in the editor, kept so a toolbar button or the link prompt
  // acts where the user was, not at the start.
  saveRange() {
    const sel = document.getSelection();
    if (sel?.rangeCount && this.rich.contains(sel.anchorNode)) this.range = sel.getRangeAt(0).cloneRange();
  }

  format(cmd) {
    if (document.activeElement !== this.rich) {
      this.rich.focus();
      if (this.range) {
        const sel = document.getSelection();
        sel.removeAllRanges();
        sel.addRange(this.range);
      }
    }
    switch (cmd) {
      case "bold":
      case "italic":
        document.execCommand(cmd);
        break;
      case "ul":
        document.execCommand("insertUnorderedList");
        break;
      case "ol":
        document.execCommand("insertOrderedList");
        break;
      case "quote":
        document.execCommand("formatBlock", false, "blockquote");
        break;
      case "link": {
        const url = prompt(this.t("compose.linkPrompt"), "https://");
        if (!url || !/^(https?:\/\/|mailto:)\S+$/i.test(url.trim())) break;
        this.rich.focus();
        if (this.range) {
          const sel = document.getSelection();
          sel.removeAllRanges();
          sel.addRange(this.range);
        }
        const sel = document.getSelection();
        if (sel.rangeCount && sel.isCollapsed) {
          const a = h("a", { href: url.trim(), text: url.trim() });
          const range = sel.getRangeAt(0);
          range.insertNode(a);
          range.setStartAfter(a);
          range.collapse(true);
          sel.removeAllRanges();
          sel.addRange(range);
        } else {
          document.execCommand("createLink", false, url.trim());
        }
        break;
      }
    }
    this.changed();
  }

  // formKey: Enter in a one-line field does not send (it is too easy to
  // press after an address); Ctrl/Cmd+Enter sends from anywhere.
  formKey(e) {
    if (e.key !== "Enter" || e.defaultPrevented || e.isComposing) return;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      this.send();
    } else if (e.target instanceof HTMLInputElement) {
      e.preventDefault();
    }
  }

  richKey(e) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    const k = e.key.toLowerCase();
    if (k === "b" || k === "i") {
      e.preventDefault();
      this.format(k === "b" ? "bold" : "italic");
    } else if (k === "k") {
      e.preventDefault();
      this.format("link");
    }
  }

  // paste keeps the harmless part of pasted HTML, or the text.
  paste(e) {
    const dt = e.clipboardData;
    if (!dt) return;
    e.preventDefault();
    const html = dt.getData("text/html");
    const frag = html ? importRich(html) : textToRich(dt.getData("text/plain"));
    const sel = window.getSelection();
    if (!sel.rangeCount) return this.rich.append(frag);
    const range = sel.getRangeAt(0);
    range.deleteContents();
    const last = frag.lastChild;
    range.insertNode(frag);
    if (last) {
      range.setStartAfter(last);
      range.collapse(true);
      sel.removeAllRanges();
      sel.addRange(range);
    }
    this.changed();
  }

  insertSignature(identity) {
    const text = identity?.textSignature || (identity?.htmlSignature ? htmlToText(identity.htmlSignature) : "");
    if (!text.trim()) return;
    if (this.mode === "rich") {
      const node = h("div", { class: "compose-signature" }, h("div", { text: "-- " }));
      node.append(identity.htmlSignature ? importRich(identity.htmlSignature) : textToRich(text));
      // Above the original in a reply or forward (after the first empty
      // line, where the caret goes), else at the end.
      const above = this.answering || this.forwarding;
      this.rich.insertBefore(node, above ? this.rich.children[1] || null : null);
      this.signature = { node };
    } else {
      const sig = "\n-- \n" + text.replace(/\n+$/, "") + "\n";
      const v = this.text.value;
      const at = this.answering || this.forwarding ? v.indexOf("\n\n") : -1;
      this.text.value = at >= 0 ? v.slice(0, at) + "\n" + sig + v.slice(at) : v.replace(/\n*$/, "\n") + sig;
      this.signature = { text: sig };
    }
  }

  identityChanged() {
    const s = this.signature;
    if (s?.node) s.node.remove();
    if (s?.text) this.text.value = this.text.value.replace(s.text, "");
    this.signature = null;
    this.insertSignature(this.identities.find((i) => i.id === this.from.value));
    this.changed();
  }

  // --- attachments -------------------------------------------------------

  addChip(a) {
    const t = this.t;
    const li = h("li", { class: "compose-attachment", data: { test: "compose-attachment" } });
    const name = h("span", { class: "compose-attachment-name", text: a.name || t("compose.unnamed") });
    const size = h("span", { class: "compose-attachment-size", text: a.size != null ? formatSize(a.size, this.ctx.lang) : "" });
    const remove = h("button", { type: "button", class: "compose-attachment-remove", "aria-label": t("compose.removeAttachment", { name: a.name || "" }), text: "×",
      on: { click: () => this.removeAttachment(a) } });
    li.append(name, size, remove);
    a.el = li;
    this.attachments.push(a);
    this.chips.append(li);
    return a;
  }

  removeAttachment(a) {
    a.abort?.();
    a.el.remove();
    this.attachments = this.attachments.filter((x) => x !== a);
    this.changed();
  }

  addFiles(files) {
    for (const file of files || []) this.upload(file);
  }

  async upload(file) {
    const a = this.addChip({ type: file.type || "application/octet-stream", name: file.name, size: file.size, disposition: "attachment", uploading: true });
    const bar = h("progress", { class: "compose-progress", max: "100", value: "0", data: { test: "upload-progress" }, "aria-label": this.t("compose.uploading", { name: file.name }) });
    a.el.insertBefore(bar, a.el.lastChild);
    a.el.classList.add("uploading");
    const onProgress = (x, total) => {
      let f = typeof x === "object" && x ? x.loaded / (x.total || file.size || 1) : total ? x / total : x <= 1 ? x : x / (file.size || 1);
      bar.value = Math.max(0, Math.min(100, Math.round(f * 100)));
    };
    try {
      const r = await this.ctx.api.upload(file, { onProgress });
      if (!this.attachments.includes(a)) return;
      a.blobId = r.blobId;
      a.type = r.type || a.type;
      a.size = r.size ?? a.size;
      a.uploading = false;
      bar.value = 100;
      bar.remove();
      a.el.classList.remove("uploading");
      this.changed();
    } catch (err) {
      a.uploading = false;
      a.failed = true;
      bar.remove();
      a.el.classList.add("failed");
      a.el.insertBefore(h("span", { class: "compose-attachment-error", role: "alert", text: this.t(err?.status === 413 ? "compose.error.tooLarge" : "compose.error.upload") }), a.el.lastChild);
    }
  }

  dragOver(e) {
    if (![...(e.dataTransfer?.types || [])].includes("Files")) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    this.form.classList.add("compose-drop");
  }

  drop(e) {
    if (!e.dataTransfer?.files?.length) return;
    e.preventDefault();
    this.form.classList.remove("compose-drop");
    this.addFiles(e.dataTransfer.files);
  }

  // --- the Email ---------------------------------------------------------

  changed(body = false) {
    this.dirty = true;
    if (body) this.bodyEdited = true;
  }

  isEmpty() {
    const body = this.mode === "rich" ? this.rich.textContent : this.text.value;
    const sig = this.signature?.text || this.signature?.node?.textContent || "";
    return !this.to.input.value.trim() && !this.cc.input.value.trim() && !this.bcc.input.value.trim() &&
      !this.subject.value.trim() && !body.replace(sig, "").trim() && this.attachments.length === 0;
  }

  identity() {
    return this.identities.find((i) => i.id === this.from.value);
  }

  // email is the Email create object of what the form holds.
  email() {
    const drafts = byRole(this.boxes, "drafts");
    if (!drafts) throw new MethodError({ type: "noDrafts" });
    const id = this.identity();
    const addrs = (f) => parseAddresses(f.input.value).map(({ name, email }) => (name ? { name, email } : { name: null, email }));
    const e = {
      mailboxIds: { [drafts.id]: true },
      keywords: { $draft: true, $seen: true },
      from: id ? [{ name: id.name || null, email: id.email }] : undefined,
      subject: this.subject.value,
      attachments: this.attachments.filter((a) => a.blobId).map((a) => ({ blobId: a.blobId, type: a.type, name: a.name || null, disposition: a.disposition || "attachment", ...(a.cid ? { cid: a.cid } : {}) })),
    };
    for (const f of ["to", "cc", "bcc"]) {
      const list = addrs(this[f]);
      if (list.length) e[f] = list; // an empty list would write an empty field
    }
    if (id?.replyTo?.length) e.replyTo = id.replyTo;
    if (this.inReplyTo?.length) e.inReplyTo = this.inReplyTo;
    if (this.references?.length) e.references = this.references;
    if (this.mode === "rich") {
      e.textBody = [{ partId: "text", type: "text/plain" }];
      e.htmlBody = [{ partId: "html", type: "text/html" }];
      e.bodyValues = { text: { value: richToText(this.rich) }, html: { value: "<!DOCTYPE html><html><body>" + this.rich.innerHTML + "</body></html>" } };
    } else {
      e.textBody = [{ partId: "text", type: "text/plain" }];
      e.bodyValues = { text: { value: this.text.value } };
    }
    return e;
  }

  // save writes the draft: a new Email, the previous one destroyed. Saves
  // never overlap.
  save() {
    const run = async () => {
      const email = this.email();
      this.dirty = false;
      const old = this.draftId;
      const r = await call(this.ctx, [["Email/set", { accountId: this.acct, create: { draft: email }, destroy: old ? [old] : [] }, "s"]]);
      const res = r.pick("s");
      const made = res.created?.draft;
      if (!made) {
        this.dirty = true;
        throw new MethodError(res.notCreated?.draft);
      }
      this.draftId = made.id;
      if (old) replacedDrafts.set(old, made.id);
      if (!this.closed && location.pathname === "/compose") history.replaceState(history.state, "", "/compose?draft=" + encodeURIComponent(made.id));
      const time = new Intl.DateTimeFormat(this.ctx.lang, { timeStyle: "short" }).format(new Date());
      this.status.textContent = this.t("compose.draftSaved", { time });
      this.status.dataset.savedAt = String(Date.now());
      return made.id;
    };
    this.saving = (this.saving || Promise.resolve()).catch(() => {}).then(run);
    lastSave = this.saving;
    return this.saving;
  }

  autosave() {
    if (this.sent || !this.dirty || this.attachments.some((a) => a.uploading)) return;
    if (!this.draftId && this.isEmpty()) return;
    this.save().then(() => this.showError(""), (err) => this.showError(this.t("compose.error.save", { type: err.type || "" })));
  }

  check() {
    const t = this.t;
    const fields = [this.to, this.cc, this.bcc].map((f) => parseAddresses(f.input.value));
    const bad = fields.flat().filter((a) => !a.ok);
    if (bad.length) return t("compose.error.badAddress", { address: bad[0].email });
    if (fields.flat().length === 0) return t("compose.error.noRecipient");
    if (!this.identity()) return t("compose.error.noIdentity");
    if (this.attachments.some((a) => a.uploading)) return t("compose.error.uploading");
    if (this.attachments.some((a) => a.failed)) return t("compose.error.failedUpload");
    return "";
  }

  async send() {
    const problem = this.check();
    if (problem) return this.showError(problem);
    if (!this.subject.value.trim() && !confirm(this.t("compose.noSubject"))) return;
    this.sendButton.disabled = true;
    let draftId;
    try {
      draftId = this.dirty || !this.draftId ? await this.save() : this.draftId;
    } catch (err) {
      this.sendButton.disabled = false;
      return this.showError(this.t("compose.error.save", { type: err.type || "" }));
    }
    this.sent = true;
    const job = {
      ctx: this.ctx, acct: this.acct, draftId, identityId: this.identity().id,
      sent: byRole(this.boxes, "sent"), answering: this.answering, forwarding: this.forwarding,
    };
    const back = this.answering || this.forwarding ? "/m/" + encodeURIComponent(this.answering || this.forwarding) : "/";
    scheduleSend(job);
    this.ctx.navigate(back);
  }

  async discard() {
    this.sent = true;
    clearInterval(this.timer);
    const id = this.draftId;
    await this.saving?.catch(() => {});
    const latest = this.draftId || id;
    if (latest) {
      await call(this.ctx, [["Email/set", { accountId: this.acct, destroy: [latest] }, "d"]]).catch(() => {});
    }
    this.ctx.notify?.("compose.discarded");
    this.ctx.navigate(this.answering ? "/m/" + encodeURIComponent(this.answering) : "/");
  }

  unmount() {
    clearInterval(this.timer);
    document.removeEventListener("visibilitychange", this.onHide);
    document.removeEventListener("selectionchange", this.onSelection);
    window.removeEventListener("pagehide", this.onHide);
    if (!this.sent && this.dirty && this.form && this.boxes && !(this.isEmpty() && !this.draftId)) {
      const saving = this.save();
      if (location.pathname === "/compose") handoff = { url: location.pathname + location.search, promise: saving };
      saving.then(() => this.ctx.notify?.("compose.draftKept"), () => this.ctx.notify?.("compose.error.draftLost"));
    }
    this.closed = true;
    this.el.replaceChildren();
  }
}

// scheduleSend submits a saved draft after UNDO_MS, unless undone. It
// lives outside the Composer, which is gone by then.
let pendingSends = 0;

// Leaving the page while a send waits would leave it a draft: ask first.
window.addEventListener("beforeunload", (e) => {
  if (pendingSends > 0) e.preventDefault();
});

function scheduleSend(job) {
  const { ctx } = job;
  let closeToast = () => {};
  let done = false; // sent or undone: the other can no longer happen
  pendingSends++;
  const timer = setTimeout(async () => {
    if (done) return;
    done = true;
    pendingSends--;
    closeToast();
    const update = { "keywords/$draft": null };
    if (job.sent) update.mailboxIds = { [job.sent.id]: true };
    const calls = [["EmailSubmission/set", {
      accountId: job.acct,
      create: { send: { identityId: job.identityId, emailId: job.draftId } },
      onSuccessUpdateEmail: { "#send": update },
    }, "s"]];
    const orig = job.answering || job.forwarding;
    if (orig) calls.push(["Email/set", { accountId: job.acct, update: { [orig]: { [job.answering ? "keywords/$answered" : "keywords/$forwarded"]: true } } }, "a"]);
    try {
      const r = await call(ctx, calls);
      const res = r.pick("s");
      if (!res.created?.send) throw new MethodError(res.notCreated?.send);
      ctx.notify?.("compose.sent");
    } catch (err) {
      console.error("send", err);
      // The frame's notify takes params; the reason is the SetError type
      // (forbiddenFrom, tooManyRecipients, ...), or a network failure.
      ctx.notify?.("compose.error.send", { params: { reason: err?.type || err?.message || "" } });
    }
  }, UNDO_MS);
  closeToast = undoToast(ctx, () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    pendingSends--;
    ctx.navigate("/compose?draft=" + encodeURIComponent(job.draftId));
  });
}
