// The webmail's entry: session check, login view, the mail view (tree, list,
// reader) and the router. Compose and settings are other modules, loaded
// when first needed and mounted into the main area (see webmail-spec.md,
// "The SPA").

import { API, HTTPError } from "./api.js";
import { loadI18n, t, currentLang, pickLang, setLang, setPrefsSaver, LANGS } from "./i18n.js";
import { el, icon, button, popupMenu, closeMenus, loadIcons } from "./ui.js";
import { Mailboxes } from "./mailboxes.js";
import { MessageList } from "./list.js";
import { Reader } from "./reader.js";
import { Actions } from "./actions.js";
import { SearchBox, parseSearch } from "./search.js";
import { installKeys } from "./keys.js";
import { Push } from "./push.js";

const VERSION = new URL(import.meta.url).search;
const PLUGINS = { compose: "./compose.js", settings: "./settings.js" };

class App {
  constructor(root) {
    this.root = root;
    this.api = null;
    this.openId = null;
    this.route = null;
    this.plugin = null;
    this.keysInstalled = false;
    window.addEventListener("popstate", () => this.dispatch());
    window.addEventListener("langchange", () => this.rebuild());
    document.addEventListener("click", (e) => this.interceptLinks(e));
    // A session ended elsewhere (logout in another tab, expiry) is noticed
    // through /webmail/session when the tab comes back, before a JMAP call
    // meets the 401 (whose Basic challenge would make the browser prompt).
    const recheck = () => {
      if (!this.api || document.visibilityState !== "visible" || Date.now() - (this.lastCheck || 0) < 5000) return;
      this.lastCheck = Date.now();
      this.checkSession();
    };
    document.addEventListener("visibilitychange", recheck);
    window.addEventListener("focus", recheck);
  }

  async boot() {
    let sess = null;
    try {
      const resp = await fetch("/webmail/session", { credentials: "same-origin" });
      if (resp.ok) sess = await resp.json();
    } catch (e) { /* offline: the login view says so on submit */ }
    const api = sess && this.makeAPI(sess);
    const jmapSession = api && api.loadSession().catch((e) => e);
    await Promise.all([loadI18n(pickLang(sess && sess.lang), ["core"]), loadIcons()]);
    if (!sess) {
      this.showLogin();
      return;
    }
    await this.startSession(sess, api, jmapSession);
  }

  makeAPI(sess) {
    return new API({ csrf: sess.csrf, accountId: sess.accountId, username: sess.username, onUnauthorized: () => this.sessionLost() });
  }

  async startSession(sess, api, jmapSession) {
    this.api = api || this.makeAPI(sess);
    setPrefsSaver((lang) => this.api.fetchJSON("/webmail/prefs", { method: "POST", body: { lang } }));
    try {
      const r = await (jmapSession || this.api.loadSession());
      if (r instanceof Error) throw r;
    } catch (e) {
      if (e.status === 401) return;
      this.fatal(e);
      return;
    }
    this.buildMail();
    await this.mailboxes.load();
    this.push = new Push(this);
    this.push.start();
    if (!this.keysInstalled) {
      installKeys(this);
      this.keysInstalled = true;
    }
    await this.dispatch();
  }

  async checkSession() {
    try {
      const resp = await fetch("/webmail/session", { credentials: "same-origin" });
      if (resp.ok) return true;
    } catch (e) {
      return true; // offline is not logged out
    }
    this.sessionLost();
    return false;
  }

  sessionLost() {
    if (this.push) this.push.stop();
    this.api = null;
    this.showLogin();
  }

  fatal(err) {
    this.root.textContent = "";
    this.root.append(el("p", { class: "error", text: t("core.loadError", { reason: err.message }) }));
  }

  // ---- login

  langSelect() {
    const sel = el("select", { class: "lang-switch", "data-test": "lang-switch", "aria-label": t("core.language") });
    for (const l of LANGS) sel.append(el("option", { value: l, text: t("core.lang." + l), selected: l === currentLang() }));
    sel.value = currentLang();
    sel.addEventListener("change", () => setLang(sel.value));
    return sel;
  }

  showLogin(errorText) {
    this.closePlugin();
    document.title = t("core.loginTitle");
    this.root.textContent = "";
    this.root.className = "app login-view";
    const user = el("input", { type: "text", name: "username", id: "login-username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false", "data-test": "login-username" });
    const pass = el("input", { type: "password", name: "password", id: "login-password", autocomplete: "current-password", required: true, "data-test": "login-password" });
    const err = el("p", { class: "login-error", role: "alert", "data-test": "login-error", hidden: !errorText, text: errorText || "" });
    const submit = el("button", { type: "submit", class: "btn primary", "data-test": "login-submit", text: t("core.signIn") });
    const form = el("form", { class: "login-form", "data-test": "login-form", method: "post", action: "/webmail/login" },
      el("div", { class: "login-brand" }, icon("i-logo", "logo"), el("h1", { text: t("core.appName") })),
      el("label", { for: "login-username", text: t("core.username") }), user,
      el("label", { for: "login-password", text: t("core.password") }), pass,
      err, submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.hidden = true;
      submit.disabled = true;
      try {
        const resp = await fetch("/webmail/login", {
          method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: user.value.trim(), password: pass.value }),
        });
        if (resp.ok) {
          const sess = await resp.json();
          pass.value = "";
          if (location.pathname === "/login") history.replaceState(null, "", "/");
          if (sess.lang && sess.lang !== currentLang() && LANGS.includes(sess.lang)) await loadI18n(sess.lang, ["core"]);
          await this.startSession(sess);
          return;
        }
        if (resp.status === 429) {
          err.textContent = t("core.loginThrottled", { seconds: resp.headers.get("Retry-After") || "60" });
        } else if (resp.status === 401 || resp.status === 403) {
          err.textContent = t("core.loginFailed");
        } else {
          err.textContent = t("core.loginError", { status: resp.status });
        }
      } catch (ex) {
        err.textContent = t("core.networkError");
      }
      err.hidden = false;
      submit.disabled = false;
      pass.select();
    });
    this.root.append(el("main", { class: "login-box" }, form, el("div", { class: "login-lang" }, this.langSelect())));
    user.focus();
  }

  // ---- the mail view

  buildMail() {
    this.root.textContent = "";
    this.root.className = "app mail-view";
    this.mailboxes = new Mailboxes(this);
    this.list = new MessageList(this);
    this.reader = new Reader(this);
    this.actions = new Actions(this);
    this.search = new SearchBox(this);
    this.main = el("main", { class: "mainarea", hidden: true });
    this.toasts = el("div", { class: "toasts", "aria-live": "polite" });
    const navToggle = button({ icon: "i-menu", label: t("core.folders"), test: "nav-toggle", iconOnly: true, cls: "nav-toggle", onClick: () => this.layout.classList.toggle("nav-open") });
    const brand = el("a", { class: "brand", href: "/", "aria-label": t("core.appName") }, icon("i-logo", "logo"), el("span", { text: t("core.appName") }));
    const compose = button({ icon: "i-pen", label: t("core.compose"), test: "compose-new", cls: "primary compose-btn", onClick: () => this.navigate("/compose") });
    const settings = el("a", { class: "btn icon-only", href: "/settings", "data-test": "settings-open", "aria-label": t("core.settings"), title: t("core.settings") }, icon("i-gear"));
    const logout = button({ icon: "i-logout", label: t("core.logout"), test: "logout", iconOnly: true, onClick: () => this.logout() });
    const bar = el("header", { class: "topbar" }, navToggle, brand, this.search.form, compose, el("span", { class: "grow" }), settings);
    const account = el("div", { class: "account" }, el("span", { class: "user", title: this.api.username, text: this.api.username }), this.langSelect());
    const accountButtons = el("div", { class: "account-buttons" });
    if (Push.notificationsAvailable()) {
      const on = Push.notificationsOn();
      const bell = button({ icon: on ? "i-bell-on" : "i-bell", label: t(on ? "core.notificationsOff" : "core.notificationsOn"), test: "notify-enable", iconOnly: true, onClick: async () => {
        if (Push.notificationsOn()) Push.disableNotifications();
        else if (!(await Push.enableNotifications())) this.notify("core.notificationsDenied");
        this.rebuildTopbarBell(bell);
      } });
      accountButtons.append(bell);
    }
    accountButtons.append(logout);
    account.append(accountButtons);
    const content = el("div", { class: "content" }, this.list.root, this.reader.root, this.main);
    const scrim = el("div", { class: "scrim", onClick: () => this.layout.classList.remove("nav-open") });
    this.layout = el("div", { class: "layout", "data-screen": "list" }, el("aside", { class: "sidebar" }, this.mailboxes.root, account), scrim, content);
    this.root.append(bar, this.layout, this.toasts);
  }

  rebuildTopbarBell(bell) {
    const on = Push.notificationsOn();
    const fresh = button({ icon: on ? "i-bell-on" : "i-bell", label: t(on ? "core.notificationsOff" : "core.notificationsOn"), test: "notify-enable", iconOnly: true });
    bell.replaceChildren(...fresh.childNodes);
    bell.setAttribute("aria-label", fresh.getAttribute("aria-label"));
    bell.title = fresh.title;
  }

  // rebuild redraws everything in the new language.
  async rebuild() {
    if (!this.api) {
      this.showLogin();
      return;
    }
    this.closePlugin();
    const lq = this.list && this.list.query;
    this.buildMail();
    await this.mailboxes.load();
    this.route = null;
    void lq;
    await this.dispatch();
  }

  mailViewActive() {
    return this.api && this.route && !["compose", "settings"].includes(this.route.name);
  }

  currentMailboxId() {
    const q = this.list && this.list.query;
    return q && q.mailbox ? q.mailbox.id : null;
  }

  // ---- routing

  parse() {
    const path = location.pathname;
    const params = new URLSearchParams(location.search);
    let m;
    if ((m = /^\/f\/([^/]+)$/.exec(path))) return { name: "folder", id: decodeURIComponent(m[1]), params };
    if ((m = /^\/m\/([^/]+)$/.exec(path))) return { name: "message", id: decodeURIComponent(m[1]), params };
    if ((m = /^\/t\/([^/]+)$/.exec(path))) return { name: "thread", id: decodeURIComponent(m[1]), params };
    if (path === "/search") return { name: "search", q: params.get("q") || "", params };
    if (path === "/compose") return { name: "compose", params };
    if ((m = /^\/settings(?:\/([^/]+))?$/.exec(path))) return { name: "settings", page: m[1] ? decodeURIComponent(m[1]) : "", params };
    return { name: "home", params };
  }

  navigate(path, state) {
    if (path !== location.pathname + location.search) history.pushState(state || null, "", path);
    else if (state) history.replaceState(state, "", path);
    return this.dispatch();
  }

  replace(path, state) {
    history.replaceState(state || null, "", path);
    return this.dispatch();
  }

  interceptLinks(e) {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || !this.api) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !/^\/(f|m|t|search|compose|settings)(\/|$|\?)|^\/$/.test(url.pathname)) return;
    e.preventDefault();
    this.navigate(url.pathname + url.search);
  }

  async dispatch() {
    if (!this.api) return;
    closeMenus();
    const r = this.parse();
    const prev = this.route;
    this.route = r;
    this.layout.classList.remove("nav-open");
    if (r.name === "compose" || r.name === "settings") {
      await this.mountPlugin(r);
      return;
    }
    this.closePlugin();
    if (r.name === "home") {
      const inbox = this.mailboxes.byRole("inbox") || this.mailboxes.list[0];
      if (inbox) return this.replace("/f/" + inbox.id);
      return;
    }
    if (r.name === "folder") {
      const mb = this.mailboxes.byId.get(r.id);
      if (!mb) {
        this.list.setQuery({ filter: { inMailbox: r.id }, sort: [{ property: "receivedAt", isAscending: false }], collapseThreads: true, title: t("core.notFound") });
      } else {
        this.showMailbox(mb);
      }
      this.openId = null;
      this.reader.showEmpty();
      this.setScreen("list");
      this.mailboxes.render();
      this.updateTitle();
      this.list.paint();
      return;
    }
    if (r.name === "search") {
      this.search.input.value = r.q;
      const { filter, errors } = parseSearch(r.q, (name) => {
        const mb = this.mailboxes.findByName(name);
        return mb && mb.id;
      });
      if (errors.length) this.notify("core.searchIgnored", { params: { terms: errors.join(" ") } });
      this.list.setQuery({ filter: filter || {}, sort: [{ property: "receivedAt", isAscending: false }], collapseThreads: false, title: t("core.searchResults", { q: r.q }), search: true, q: r.q });
      this.openId = null;
      this.reader.showEmpty();
      this.setScreen("list");
      this.mailboxes.render();
      this.updateTitle();
      return;
    }
    if (r.name === "message" || r.name === "thread") {
      this.setScreen("reader");
      const state = history.state || {};
      this.openId = r.name === "message" ? r.id : state.openId || null;
      this.list.paint();
      const email = r.name === "message" ? await this.reader.openEmail(r.id) : await this.reader.openThread(r.id, state.openId);
      if (!email) return;
      this.openId = email.id;
      if (!this.list.query || (prev === null)) {
        const mbId = Object.keys(email.mailboxIds)[0];
        const mb = this.mailboxes.byId.get(mbId);
        if (mb) this.showMailbox(mb);
        this.mailboxes.render();
      }
      this.list.paint();
      this.updateTitle();
      this.reader.root.focus({ preventScroll: true });
    }
  }

  showMailbox(mb) {
    const threaded = localStorage.getItem("postern.threads") !== "0";
    this.list.setQuery({
      filter: { inMailbox: mb.id },
      sort: [{ property: "receivedAt", isAscending: false }],
      collapseThreads: threaded && mb.role !== "drafts",
      title: this.mailboxes.name(mb),
      mailbox: mb,
    });
  }

  setScreen(s) {
    this.layout.dataset.screen = s;
  }

  // back: from a message to its list; from compose/settings to the mail.
  back() {
    if (this.route && (this.route.name === "compose" || this.route.name === "settings")) {
      if (history.length > 1 && history.state && history.state.fromApp) history.back();
      else this.navigate(this.listURL());
      return;
    }
    if (this.route && (this.route.name === "message" || this.route.name === "thread")) this.navigate(this.listURL());
  }

  listURL() {
    const q = this.list && this.list.query;
    if (q && q.search) return "/search?q=" + encodeURIComponent(q.q);
    if (q && q.mailbox) return "/f/" + q.mailbox.id;
    return "/";
  }

  // step moves the cursor (j/k) and follows it in the reader when one is open.
  step(delta) {
    const e = this.list.moveCursor(delta);
    if (e && this.route && (this.route.name === "message" || this.route.name === "thread")) this.list.open(e);
  }

  async actOnCurrent(fn) {
    if (this.reader.email && this.route && (this.route.name === "message" || this.route.name === "thread")) return fn(this.reader.ids());
    if (this.list.selectionCount()) return fn(await this.list.selectedIds());
    const c = this.list.cursorEmail();
    if (c) return fn(this.list.expand([c.id]));
  }

  // advanceFrom: after archive/delete of what the reader shows, show the
  // next message of the list (or the list).
  advanceFrom(ids) {
    if (!this.reader.email || !ids.includes(this.reader.email.id)) return;
    const next = this.list.neighbour(this.reader.email.id);
    const gone = new Set(ids);
    if (next && !gone.has(next.id) && window.matchMedia("(min-width: 900px)").matches) {
      history.replaceState(null, "", "/m/" + next.id);
      this.dispatch();
    } else {
      history.replaceState(null, "", this.listURL());
      this.dispatch();
    }
  }

  async markRead(email) {
    if (email.keywords.$seen) return;
    email.keywords.$seen = true;
    this.list.patch([email.id], (e) => { e.keywords.$seen = true; });
    try {
      await this.api.set("Email", { update: { [email.id]: { "keywords/$seen": true } } });
      await this.mailboxes.load();
      this.updateTitle();
    } catch (e) { /* the next refresh shows the truth */ }
  }

  moveMenu(anchor, getIds, opts) {
    const cur = this.currentMailboxId();
    const items = this.mailboxes.ordered().filter(({ mb }) => mb.id !== cur).map(({ mb, depth }) => ({
      label: this.mailboxes.name(mb), icon: "i-folder", indent: depth, test: "move-target", data: { id: mb.id },
      onSelect: async () => this.actions.move(await getIds(), mb.id, opts),
    }));
    popupMenu(anchor, items, { test: "move-menu", label: t("core.moveTo") });
  }

  // ---- server changes

  onServerChange(types) {
    if (!types.some((x) => ["Email", "Mailbox", "Thread", "EmailDelivery"].includes(x))) return;
    // Throttled, not debounced: a steady stream of deliveries must not
    // keep postponing the refresh for ever.
    if (this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = null;
      this.refresh(true);
    }, 300);
  }

  async refresh(fromPush) {
    if (!this.api) return;
    const inbox = this.mailboxes.byRole("inbox");
    const before = inbox ? inbox.unreadEmails : 0;
    await this.mailboxes.load();
    if (this.list.query && this.mailViewActive()) this.list.refresh();
    this.updateTitle();
    const after = this.mailboxes.byRole("inbox");
    if (fromPush && after && after.unreadEmails > before) this.newMail(after, after.unreadEmails - before);
  }

  async newMail(inbox, count) {
    if (!Push.notificationsOn()) return;
    try {
      const r = await this.api.call([
        ["Email/query", { filter: { inMailbox: inbox.id }, sort: [{ property: "receivedAt", isAscending: false }], limit: 1 }, "q"],
        ["Email/get", { "#ids": { resultOf: "q", name: "Email/query", path: "/ids" }, properties: ["from", "subject"] }, "g"],
      ]);
      const e = r[1][1].list[0];
      this.push.notifyNew(count, e && { id: e.id, from: ((e.from || [])[0] || {}).name || ((e.from || [])[0] || {}).email || "", subject: e.subject || "" });
    } catch (e) { /* a notification is a courtesy */ }
  }

  updateTitle() {
    const inbox = this.mailboxes && this.mailboxes.byRole("inbox");
    const n = inbox ? inbox.unreadEmails : 0;
    let where = t("core.appName");
    if (this.route && this.route.name === "compose") where = t("core.compose");
    else if (this.route && this.route.name === "settings") where = t("core.settings");
    else if (this.reader && this.reader.email && this.route && (this.route.name === "message" || this.route.name === "thread")) where = this.reader.email.subject || t("core.noSubject");
    else if (this.list && this.list.query) where = this.list.query.title;
    document.title = (n ? `(${n}) ` : "") + where + " — " + t("core.appName");
  }

  // ---- toasts

  notify(textKey, opts) {
    opts = opts || {};
    const toast = el("div", { class: "toast", role: "status", "data-test": "toast" }, el("span", { text: t(textKey, opts.params) }));
    let timer;
    const close = () => {
      clearTimeout(timer);
      toast.remove();
    };
    if (opts.undo) {
      toast.append(el("button", { type: "button", class: "btn link", "data-test": "undo-send", text: t("core.undo"), onClick: () => {
        close();
        opts.undo();
      } }));
    }
    toast.append(el("button", { type: "button", class: "btn icon-only toast-close", "aria-label": t("core.close"), onClick: close }, icon("i-close")));
    (this.toasts || this.root).append(toast);
    timer = setTimeout(close, opts.timeout || (opts.undo ? 8000 : 5000));
    return { close };
  }

  // ---- compose and settings

  async mountPlugin(r) {
    const name = r.name;
    this.setScreen("main");
    this.main.hidden = false;
    if (this.plugin && this.plugin.name === name && name === "settings" && this.plugin.page === r.page && this.plugin.search === location.search) return;
    this.closePlugin();
    this.main.hidden = false;
    const host = el("div", { class: "plugin plugin-" + name });
    this.main.append(host);
    this.plugin = { name, page: r.page || "", search: location.search, handle: null, host };
    this.updateTitle();
    try {
      const [mod] = await Promise.all([import(PLUGINS[name] + VERSION), loadI18n(currentLang(), [name])]);
      if (!this.plugin || this.plugin.host !== host) return;
      const ctx = {
        api: this.api,
        t,
        lang: currentLang(),
        navigate: (p) => this.navigate(p),
        notify: (k, o) => this.notify(k, o),
        account: { id: this.api.accountId, username: this.api.username },
        session: this.api.session,
        params: r.params,
        page: r.page || "",
        back: () => this.back(),
        mailboxes: this.mailboxes.list,
      };
      this.plugin.handle = mod.mount(host, ctx) || null;
    } catch (e) {
      host.append(el("p", { class: "error", text: t("core.loadError", { reason: e.message }) }));
    }
  }

  closePlugin() {
    if (!this.plugin) return;
    try {
      if (this.plugin.handle && this.plugin.handle.unmount) this.plugin.handle.unmount();
    } catch (e) { /* a broken plugin must not block the mail view */ }
    this.plugin.host.remove();
    this.plugin = null;
    if (this.main) this.main.hidden = true;
  }

  async logout() {
    try {
      await this.api.fetchJSON("/webmail/logout", { method: "POST", body: {} });
    } catch (e) {
      if (!(e instanceof HTTPError)) throw e;
    }
    if (this.push) this.push.stop();
    this.closePlugin();
    this.api = null;
    history.replaceState(null, "", "/login");
    this.showLogin();
  }
}

const root = document.getElementById("app") || document.body.appendChild(document.createElement("div"));
root.id = "app";
new App(root).boot();
