// Small DOM helpers shared by the webmail modules: elements from code (never
// from HTML strings), icons from the sprite, dialogs and menus.

import { t } from "./i18n.js";

const VERSION = new URL(import.meta.url).search;
const SVGNS = "http://www.w3.org/2000/svg";
let spriteLoaded = false;

// loadIcons puts our own icon sprite into the page once, so that icons
// drawn later never wait for (or flash while) the sprite file loads.
export async function loadIcons() {
  try {
    const resp = await fetch(`/assets/icons.svg${VERSION}`, { credentials: "same-origin" });
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "image/svg+xml");
    const svg = document.importNode(doc.documentElement, true);
    if (svg.localName !== "svg") return;
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "sprite");
    document.body.prepend(svg);
    spriteLoaded = true;
  } catch (e) { /* icons fall back to the external sprite */ }
}

// el creates an element: attrs may hold class, text, dataset-like "data-*",
// aria-*, on<Event> functions (added as listeners), and other attributes.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2).toLowerCase(), v);
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function icon(name, cls) {
  const svg = document.createElementNS(SVGNS, "svg");
  svg.setAttribute("class", "icon" + (cls ? " " + cls : ""));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVGNS, "use");
  use.setAttribute("href", spriteLoaded ? "#" + name : `/assets/icons.svg${VERSION}#${name}`);
  svg.append(use);
  return svg;
}

// button with an icon and a label (shown, or as aria-label and title when
// iconOnly).
export function button({ icon: ic, label, test, onClick, iconOnly, cls, type }) {
  const b = el("button", { type: type || "button", class: "btn" + (cls ? " " + cls : ""), "data-test": test, onClick });
  if (ic) b.append(icon(ic));
  if (iconOnly) {
    b.setAttribute("aria-label", label);
    b.title = label;
  } else if (label) {
    b.append(el("span", { class: "btn-label", text: label }));
  }
  return b;
}

// dialog shows a modal with the given body and buttons; it resolves to the
// value of the button pressed (undefined when dismissed).
export function dialog({ title, body, buttons, test }) {
  return new Promise((resolve) => {
    const d = el("dialog", { class: "dialog", "data-test": test || "dialog" });
    const form = el("form", { method: "dialog" });
    if (title) form.append(el("h2", { text: title }));
    if (body) form.append(body);
    const row = el("div", { class: "dialog-buttons" });
    for (const b of buttons) {
      row.append(el("button", { type: b.submit ? "submit" : "button", class: "btn" + (b.primary ? " primary" : "") + (b.cls ? " " + b.cls : ""), value: b.value, "data-test": b.test, text: b.label,
        onClick: b.submit ? undefined : () => { d.close(b.value); } }));
    }
    form.append(row);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const primary = buttons.find((b) => b.submit);
      d.close(primary ? primary.value : "");
    });
    d.append(form);
    d.addEventListener("close", () => {
      d.remove();
      resolve(d.returnValue === "" || d.returnValue === undefined ? undefined : d.returnValue);
    });
    d.addEventListener("cancel", () => { d.returnValue = ""; });
    document.body.append(d);
    d.showModal();
    const input = d.querySelector("input");
    if (input) input.select();
  });
}

export async function promptText(title, label, value, test) {
  const input = el("input", { type: "text", value: value || "", "data-test": test || "prompt-input", "aria-label": label, required: true });
  const body = el("label", { class: "field" }, el("span", { text: label }), input);
  const r = await dialog({ title, body, buttons: [
    { label: t("core.cancel"), value: "cancel" },
    { label: t("core.ok"), value: "ok", primary: true, submit: true, test: "prompt-ok" },
  ] });
  return r === "ok" && input.value.trim() ? input.value.trim() : null;
}

export async function confirmDialog(title, text, okLabel) {
  const r = await dialog({ title, body: el("p", { text }), buttons: [
    { label: t("core.cancel"), value: "cancel" },
    { label: okLabel || t("core.ok"), value: "ok", primary: true, submit: true, test: "confirm-ok" },
  ], test: "confirm" });
  return r === "ok";
}

// popupMenu shows a list of items under anchor; items are
// {label, icon, test, data: {id}, onSelect}.
export function popupMenu(anchor, items, { test, label } = {}) {
  closeMenus();
  const menu = el("div", { class: "menu", role: "menu", "data-test": test, "aria-label": label });
  for (const it of items) {
    const b = el("button", { type: "button", role: "menuitem", class: "menu-item" + (it.indent ? " indent" + Math.min(it.indent, 4) : ""), "data-test": it.test });
    for (const [k, v] of Object.entries(it.data || {})) b.dataset[k] = v;
    if (it.icon) b.append(icon(it.icon));
    b.append(el("span", { text: it.label }));
    b.addEventListener("click", () => {
      closeMenus();
      it.onSelect();
    });
    menu.append(b);
  }
  document.body.append(menu);
  const r = anchor.getBoundingClientRect();
  const top = Math.min(r.bottom + 4, window.innerHeight - Math.min(menu.offsetHeight, window.innerHeight - 8) - 4);
  const left = Math.max(4, Math.min(r.left, window.innerWidth - menu.offsetWidth - 4));
  menu.style.top = Math.max(4, top) + "px";
  menu.style.left = left + "px";
  const first = menu.querySelector("button");
  if (first) first.focus();
  setTimeout(() => {
    document.addEventListener("click", closeMenus, { once: true });
  });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeMenus();
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const bs = [...menu.querySelectorAll("button")];
      const i = bs.indexOf(document.activeElement);
      const n = e.key === "ArrowDown" ? (i + 1) % bs.length : (i - 1 + bs.length) % bs.length;
      bs[n].focus();
    }
  });
  return menu;
}

export function closeMenus() {
  for (const m of document.querySelectorAll(".menu")) m.remove();
}

// displayAddr: "Name" or the address.
export function displayAddr(a) {
  if (!a) return "";
  return a.name || a.email || "";
}

export function addrList(list) {
  return (list || []).map((a) => (a.name ? `${a.name} <${a.email}>` : a.email)).join(", ");
}
