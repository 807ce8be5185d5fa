// Strings, plurals and dates in the user's language. Strings live in
// /assets/i18n/<lang>/<module>.json, one flat object per module; keys are
// used as "<module>.<key>" (a key already starting with the module name is
// kept as it is). A value that is an object is a set of plural forms,
// chosen by params.count with Intl.PluralRules.

export const LANGS = ["en", "zh-CN"];
const VERSION = new URL(import.meta.url).search;

let lang = "en";
let strings = {};
const loaded = new Set();
let prefsSaver = null;

export function currentLang() {
  return lang;
}

// pickLang chooses from the saved preference, then the browser, then en.
export function pickLang(saved) {
  const candidates = [saved, localStorage.getItem("postern.lang"), ...(navigator.languages || [navigator.language])];
  for (const c of candidates) {
    if (!c) continue;
    if (LANGS.includes(c)) return c;
    const low = c.toLowerCase();
    if (low.startsWith("zh")) return "zh-CN";
    if (low.startsWith("en")) return "en";
  }
  return "en";
}

async function fetchModule(l, mod) {
  const resp = await fetch(`/assets/i18n/${l}/${mod}.json${VERSION}`, { credentials: "same-origin" });
  if (!resp.ok) throw new Error(`i18n ${l}/${mod}: HTTP ${resp.status}`);
  const obj = await resp.json();
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k.startsWith(mod + ".") ? k : mod + "." + k] = v;
  }
  return out;
}

// loadI18n loads the string modules for lang (default: the current one).
export async function loadI18n(l, modules) {
  l = LANGS.includes(l) ? l : lang;
  const mods = modules && modules.length ? modules : ["core"];
  if (l !== lang) {
    strings = {};
    const again = [...loaded];
    loaded.clear();
    lang = l;
    for (const m of again) if (!mods.includes(m)) mods.push(m);
  }
  const todo = mods.filter((m) => !loaded.has(m));
  const parts = await Promise.all(todo.map(async (m) => {
    try {
      return await fetchModule(l, m);
    } catch (e) {
      // A missing translation falls back to English rather than to keys.
      if (l !== "en") return fetchModule("en", m).catch(() => ({}));
      return {};
    }
  }));
  for (let i = 0; i < todo.length; i++) {
    Object.assign(strings, parts[i]);
    loaded.add(todo[i]);
  }
  document.documentElement.lang = lang;
}

// t looks a key up and fills in {name} parameters.
export function t(key, params) {
  let v = strings[key];
  if (v === undefined) return key;
  if (typeof v === "object") {
    const n = params && typeof params.count === "number" ? params.count : 0;
    const form = new Intl.PluralRules(lang).select(n);
    v = v[form] !== undefined ? v[form] : v.other;
  }
  if (params) {
    v = v.replace(/\{(\w+)\}/g, (m, name) => {
      const p = params[name];
      if (p === undefined) return m;
      return typeof p === "number" ? new Intl.NumberFormat(lang).format(p) : String(p);
    });
  }
  return v;
}

// formatDate: style "list" (time today, day and month this year, else the
// date), "full" (date and time), "date", "time".
export function formatDate(date, style) {
  const d = date instanceof Date ? date : new Date(date);
  if (isNaN(d)) return "";
  const now = new Date();
  let opts;
  switch (style || "full") {
    case "list":
      if (d.toDateString() === now.toDateString()) opts = { hour: "2-digit", minute: "2-digit" };
      else if (d.getFullYear() === now.getFullYear()) opts = { month: "short", day: "numeric" };
      else opts = { year: "numeric", month: "short", day: "numeric" };
      break;
    case "date":
      opts = { year: "numeric", month: "long", day: "numeric" };
      break;
    case "time":
      opts = { hour: "2-digit", minute: "2-digit" };
      break;
    default:
      opts = { dateStyle: "medium", timeStyle: "short" };
  }
  return new Intl.DateTimeFormat(lang, opts).format(d);
}

export function formatSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  let n = bytes || 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return new Intl.NumberFormat(lang, { maximumFractionDigits: i ? 1 : 0 }).format(n) + " " + units[i];
}

export function formatNumber(n) {
  return new Intl.NumberFormat(lang).format(n);
}

// setPrefsSaver tells setLang how to persist the choice on the server.
export function setPrefsSaver(fn) {
  prefsSaver = fn;
}

// setLang switches language, saves the choice and reloads the strings;
// listeners of the "langchange" window event redraw.
export async function setLang(l) {
  if (!LANGS.includes(l)) return;
  localStorage.setItem("postern.lang", l);
  if (prefsSaver) {
    try {
      await prefsSaver(l);
    } catch (e) { /* kept locally anyway */ }
  }
  await loadI18n(l, []);
  window.dispatchEvent(new CustomEvent("langchange", { detail: { lang: l } }));
}
