// Keyboard shortcuts and their help overlay.

import { el } from "./ui.js";
import { t } from "./i18n.js";

export const SHORTCUTS = [
  ["j", "core.keyNext"], ["k", "core.keyPrev"], ["o", "core.keyOpen"], ["Enter", "core.keyOpen"],
  ["r", "core.reply"], ["a", "core.replyAll"], ["f", "core.forward"], ["c", "core.compose"],
  ["e", "core.archive"], ["#", "core.delete"], ["s", "core.flag"], ["u", "core.keyBack"],
  ["/", "core.keySearch"], ["?", "core.keyHelp"],
];

export function installKeys(app) {
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const tgt = e.target;
    if (tgt && (tgt.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(tgt.tagName))) return;
    if ((e.key === "Enter" || e.key === " ") && tgt && tgt.closest && tgt.closest("button, a, summary")) return;
    if (document.querySelector("dialog[open]") && e.key !== "?") return;
    if (!app.mailViewActive()) return;
    const open = app.reader.email;
    switch (e.key) {
      case "j": app.step(1); break;
      case "k": app.step(-1); break;
      case "o": case "Enter": {
        const c = app.list.cursorEmail();
        if (c) app.list.open(c);
        else return;
        break;
      }
      case "r": if (open) app.navigate("/compose?reply=" + open.id); break;
      case "a": if (open) app.navigate("/compose?replyAll=" + open.id); break;
      case "f": if (open) app.navigate("/compose?forward=" + open.id); break;
      case "c": app.navigate("/compose"); break;
      case "e": app.actOnCurrent((ids) => app.actions.archive(ids, { advance: true })); break;
      case "#": app.actOnCurrent((ids) => app.actions.trash(ids, { advance: true })); break;
      case "s": if (open) app.actions.setKeyword(app.reader.ids(), "$flagged", !open.keywords.$flagged); break;
      case "u": case "Escape": app.back(); break;
      case "/": app.search.focus(); break;
      case "?": toggleHelp(); break;
      default: return;
    }
    e.preventDefault();
  });
}

export function toggleHelp() {
  const old = document.querySelector("[data-test=shortcut-help]");
  if (old) {
    old.close();
    return;
  }
  const d = el("dialog", { class: "dialog help", "data-test": "shortcut-help", "aria-label": t("core.shortcuts") });
  const dl = el("dl", { class: "keys" });
  for (const [k, label] of SHORTCUTS) dl.append(el("dt", {}, el("kbd", { text: k })), el("dd", { text: t(label) }));
  const close = el("button", { type: "button", class: "btn primary", "data-test": "shortcut-help-close", text: t("core.close"), onClick: () => d.close() });
  d.append(el("h2", { text: t("core.shortcuts") }), dl, el("div", { class: "dialog-buttons" }, close));
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
}
