// The web admin's entry: the session check, the login (with the TOTP step),
// the frame (top bar, navigation, main area) and the router. Screens live
// in admin-*.js; each renders into the main area from the URL
// (/admin/<page>?<item>) and the API.

import { AdminAPI } from "./admin-api.js";
import { loadI18n, t, currentLang, pickLang, setLang, LANGS } from "./i18n.js";
import { el, icon, button, loadIcons } from "./ui.js";
import { errorText } from "./admin-ui.js";
import { dashboard } from "./admin-dashboard.js";
import { domains } from "./admin-domains.js";
import { accounts } from "./admin-accounts.js";
import { aliases, sieve } from "./admin-aliases.js";
import { queue, deliveryLog } from "./admin-queue.js";
import { audit, tokens, logins } from "./admin-audit.js";

// SCREENS in navigation order; server: only for server administrators.
const SCREENS = [
  { page: "dashboard", icon: "i-logo", server: true, render: dashboard },
  { page: "domains", icon: "i-folder", render: domains },
  { page: "accounts", icon: "i-inbox", render: accounts },
  { page: "aliases", icon: "i-forward", render: aliases },
  { page: "sieve", icon: "i-flag", render: sieve },
  { page: "queue", icon: "i-send", server: true, render: queue },
  { page: "log", icon: "i-file", server: true, render: deliveryLog },
  { page: "audit", icon: "i-read", server: true, render: audit },
  { page: "tokens", icon: "i-gear", render: tokens },
  { page: "logins", icon: "i-shield", server: true, render: logins },
];

// TOTP_KEY remembers which administrators logged in with a code here, so
// their next login asks for it at once.
const TOTP_KEY = "postern.admin.totp";

class AdminApp {
  constructor(root) {
    this.root = root;
    this.api = null;
    this.me = null;
    this.renderSeq = 0;
    window.addEventListener("popstate", () => this.dispatch());
    window.addEventListener("langchange", () => (this.me ? this.frame() : this.showLogin()));
    document.addEventListener("click", (e) => this.interceptLinks(e));
  }

  async boot() {
    let sess = null;
    try {
      const resp = await fetch("/admin/api/session", { credentials: "same-origin", cache: "no-store" });
      if (resp.ok) sess = await resp.json();
    } catch (e) { /* the login form says so on submit */ }
    await Promise.all([loadI18n(pickLang(), ["core", "admin"]), loadIcons()]);
    if (!sess) {
      this.showLogin();
      return;
    }
    this.start(sess);
  }

  start(sess) {
    this.me = sess.admin;
    this.api = new AdminAPI({ csrf: sess.csrf_token, onUnauthorized: () => this.sessionLost() });
    this.frame();
  }

  get isServer() {
    return this.me && this.me.role === "server";
  }

  screens() {
    return SCREENS.filter((s) => this.isServer || !s.server);
  }

  sessionLost() {
    this.me = null;
    this.api = null;
    this.showLogin(t("admin.sessionEnded"));
  }

  langSelect() {
    const sel = el("select", { class: "lang-switch", "data-test": "lang-switch", "aria-label": t("core.language") });
    for (const l of LANGS) sel.append(el("option", { value: l, text: t("core.lang." + l) }));
    sel.value = currentLang();
    sel.addEventListener("change", () => setLang(sel.value));
    return sel;
  }

  // ---- login

  showLogin(errorMsg) {
    document.title = t("admin.loginTitle");
    this.root.textContent = "";
    this.root.className = "app login-view";
    const remembered = JSON.parse(localStorage.getItem(TOTP_KEY) || "[]");
    const user = el("input", { type: "text", name: "username", id: "adm-user", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false", "data-test": "login-username" });
    const pass = el("input", { type: "password", name: "password", id: "adm-pass", autocomplete: "current-password", required: true, "data-test": "login-password" });
    const code = el("input", { type: "text", name: "totp", id: "adm-totp", autocomplete: "one-time-code", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: "6", "data-test": "login-totp" });
    const codeRow = el("div", { class: "login-totp", hidden: true }, el("label", { for: "adm-totp", text: t("admin.totp") }), code, el("small", { text: t("admin.totpHint") }));
    const showCode = el("button", { type: "button", class: "link", "data-test": "login-use-totp", text: t("admin.useTotp"), onClick: () => reveal() });
    const reveal = () => {
      codeRow.hidden = false;
      showCode.hidden = true;
      code.required = true;
    };
    user.addEventListener("change", () => {
      if (remembered.includes(user.value.trim())) reveal();
    });
    const err = el("p", { class: "login-error", role: "alert", "data-test": "login-error", hidden: !errorMsg, text: errorMsg || "" });
    const submit = el("button", { type: "submit", class: "btn primary", "data-test": "login-submit", text: t("core.signIn") });
    const form = el("form", { class: "login-form", "data-test": "login-form", method: "post", action: "/admin/api/login" },
      el("div", { class: "login-brand" }, icon("i-logo", "logo"), el("h1", { text: t("admin.appName") })),
      el("label", { for: "adm-user", text: t("admin.username") }), user,
      el("label", { for: "adm-pass", text: t("core.password") }), pass,
      codeRow, showCode, err, submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.hidden = true;
      submit.disabled = true;
      const name = user.value.trim();
      try {
        const api = new AdminAPI({});
        const sess = await api.call("POST", "/login", { username: name, password: pass.value, totp: codeRow.hidden ? "" : code.value.trim() });
        const list = remembered.filter((n) => n !== name);
        if (!codeRow.hidden) list.push(name);
        localStorage.setItem(TOTP_KEY, JSON.stringify(list.slice(-10)));
        this.start(sess);
        if (location.pathname === "/admin/login") this.go("/admin/");
      } catch (ex) {
        err.textContent = ex.status === 401 ? t(codeRow.hidden ? "admin.loginFailed" : "admin.loginFailedTotp")
          : ex.status === 429 ? t("admin.loginThrottled") : errorText(ex);
        err.hidden = false;
        // A wrong password and a missing code look the same (no oracle):
        // offer the code field after a failure.
        if (ex.status === 401) showCode.hidden = !codeRow.hidden;
        pass.select();
      } finally {
        submit.disabled = false;
      }
    });
    this.root.append(el("div", { class: "login-box" }, form, el("div", { class: "login-lang" }, this.langSelect())));
    user.focus();
  }

  async logout() {
    try {
      await this.api.post("/logout");
    } catch (e) { /* gone already */ }
    this.me = null;
    this.api = null;
    history.replaceState(null, "", "/admin/");
    this.showLogin();
  }

  // ---- frame and router

  frame() {
    this.root.textContent = "";
    this.root.className = "app adm";
    this.nav = el("nav", { class: "adm-nav", "aria-label": t("admin.navigation"), "data-test": "nav" });
    for (const s of this.screens()) {
      this.nav.append(el("a", { href: "/admin/" + s.page, class: "adm-nav-item", "data-page": s.page, "data-test": "nav-" + s.page },
        icon(s.icon), el("span", { text: t("admin.nav." + s.page) })));
    }
    const who = el("div", { class: "adm-who" },
      el("span", { class: "user", "data-test": "whoami", text: this.me.name }),
      el("span", { class: "adm-role", text: t("admin.role." + this.me.role) }));
    this.nav.append(who);
    this.main = el("main", { class: "adm-main", "data-test": "main", tabindex: "-1" });
    this.layout = el("div", { class: "adm-layout" }, this.nav,
      el("div", { class: "scrim", onClick: () => this.layout.classList.remove("nav-open") }), this.main);
    const bar = el("header", { class: "topbar" },
      button({ icon: "i-menu", label: t("admin.menu"), iconOnly: true, cls: "nav-toggle", test: "nav-toggle", onClick: () => this.layout.classList.toggle("nav-open") }),
      el("a", { href: "/admin/", class: "brand" }, icon("i-logo", "logo"), el("span", { text: t("admin.appName") })),
      el("div", { class: "grow" }),
      this.langSelect(),
      button({ icon: "i-logout", label: t("core.logout"), iconOnly: true, test: "logout", onClick: () => this.logout() }));
    this.toasts = el("div", { class: "toasts", "aria-live": "polite" });
    this.root.append(bar, this.layout, this.toasts);
    this.dispatch();
  }

  interceptLinks(e) {
    const a = e.target.closest && e.target.closest("a[href]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/admin/") || url.pathname.startsWith("/admin/api/")) return;
    e.preventDefault();
    this.go(url.pathname + url.search);
  }

  go(url, replace) {
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    this.dispatch();
  }

  // refresh renders the current screen again.
  refresh() {
    this.dispatch();
  }

  toast(text) {
    const node = el("div", { class: "toast", role: "status", "data-test": "toast" }, el("span", { text }));
    this.toasts.append(node);
    setTimeout(() => node.remove(), 5000);
  }

  async dispatch() {
    if (!this.me || !this.main) return;
    const page = location.pathname.replace(/^\/admin\/?/, "").split("/")[0];
    const list = this.screens();
    const screen = list.find((s) => s.page === page) || list[0];
    if (screen.page !== page) history.replaceState(null, "", "/admin/" + screen.page + (page === "" || page === "login" ? "" : location.search));
    for (const a of this.nav.querySelectorAll(".adm-nav-item")) {
      const on = a.dataset.page === screen.page;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    this.layout.classList.remove("nav-open");
    document.title = t("admin.nav." + screen.page) + " — " + t("admin.appName");
    const seq = ++this.renderSeq;
    const target = el("div", { class: "adm-screen", "data-test": "screen-" + screen.page });
    this.main.replaceChildren(target);
    const params = new URLSearchParams(location.search);
    const ctx = {
      api: this.api, me: this.me, isServer: this.isServer, params,
      go: (url, replace) => this.go(url, replace), refresh: () => this.refresh(), toast: (s) => this.toast(s),
    };
    target.append(el("p", { class: "loading", text: t("core.loading") }));
    try {
      await screen.render(ctx, target);
    } catch (e) {
      if (seq !== this.renderSeq || e.status === 401) return;
      target.replaceChildren(failure(e, screen.page));
    }
    const loading = target.querySelector(":scope > .loading");
    if (loading) loading.remove();
    if (seq === this.renderSeq) target.dataset.ready = "1";
  }
}

// failure is what a screen shows when the server refused or could not
// answer: what happened in the reader's language, the server's words, and
// the way back to the screen's list.
function failure(err, page) {
  const title = err.status === 403 ? "admin.failure.forbidden" : err.status === 404 ? "admin.failure.notFound" : "admin.failure.other";
  return el("div", { class: "adm-failure", "data-test": "failure-" + (err.status || 0) },
    el("div", { class: "adm-head" }, el("h1", { text: t(title) })),
    el("p", { class: "adm-error", role: "alert", "data-test": "error", text: errorText(err) }),
    el("p", null, el("a", { href: "/admin/" + page, "data-test": "failure-back", text: t("admin.failure.back", { screen: t("admin.nav." + page) }) })));
}

new AdminApp(document.getElementById("app")).boot();
