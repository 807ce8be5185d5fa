// Push: an EventSource on the JMAP event source. State changes make the app
// refresh what is on screen; the tab title carries the inbox unread count
// and, once the user has allowed it, new mail raises a desktop notification.

import { t } from "./i18n.js";

export class Push {
  constructor(app) {
    this.app = app;
    this.source = null;
    this.last = {};
    this.retry = 1000;
  }

  start() {
    this.stop();
    if (typeof EventSource === "undefined") return;
    const es = new EventSource(this.app.api.eventSourceURL("Email,Mailbox,Thread,EmailDelivery"), { withCredentials: true });
    this.source = es;
    es.addEventListener("state", (ev) => {
      this.retry = 1000;
      let change;
      try {
        change = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      const mine = (change.changed || {})[this.app.api.accountId];
      if (!mine) return;
      const types = Object.keys(mine).filter((k) => this.last[k] !== mine[k]);
      Object.assign(this.last, mine);
      if (types.length) this.app.onServerChange(types);
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server closed (or the session ended): check and reconnect.
        setTimeout(() => this.app.checkSession().then((ok) => ok && this.start()), this.retry);
        this.retry = Math.min(this.retry * 2, 60000);
      }
    });
  }

  stop() {
    if (this.source) this.source.close();
    this.source = null;
  }

  static notificationsAvailable() {
    return typeof Notification !== "undefined";
  }

  static notificationsOn() {
    return Push.notificationsAvailable() && Notification.permission === "granted" && localStorage.getItem("postern.notify") === "1";
  }

  // enableNotifications must run from a click (browsers require a gesture).
  static async enableNotifications() {
    if (!Push.notificationsAvailable()) return false;
    const p = await Notification.requestPermission();
    if (p === "granted") localStorage.setItem("postern.notify", "1");
    return p === "granted";
  }

  static disableNotifications() {
    localStorage.removeItem("postern.notify");
  }

  notifyNew(count, latest) {
    if (!Push.notificationsOn() || document.hasFocus()) return;
    const title = t("core.newMail", { count });
    const body = latest ? `${latest.from} — ${latest.subject}` : "";
    try {
      const n = new Notification(title, { body, tag: "postern-new-mail" });
      n.addEventListener("click", () => {
        window.focus();
        if (latest) this.app.navigate("/m/" + latest.id);
        n.close();
      });
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }
}
