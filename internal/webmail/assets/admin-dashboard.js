// The dashboard: services and their ports, the queue by state, 48 hours
// of traffic per hour as an inline SVG chart, disk use, certificates and
// the version.

import { t, currentLang, formatSize, formatNumber } from "./i18n.js";
import { el } from "./ui.js";
import { header, section, table, badge, when } from "./admin-ui.js";

const SVGNS = "http://www.w3.org/2000/svg";
export const SERIES = ["received", "delivered", "relayed", "deferred", "bounced", "rejected"];

export async function dashboard(ctx, target) {
  const d = await ctx.api.get("/dashboard");
  const q = d.queue || {};
  const queueTotal = Object.values(q).reduce((a, b) => a + b, 0);
  const tiles = el("div", { class: "adm-tiles" },
    tile(t("admin.dash.queue"), formatNumber(queueTotal), ["active", "deferred", "held"].map((s) => t("admin.queue.state." + s) + " " + formatNumber(q[s] || 0)).join(" · "), "tile-queue"),
    tile(t("admin.dash.bodies"), formatSize(d.disk.bodies_bytes), t("admin.dash.database") + " " + formatSize(d.disk.database_bytes), "tile-disk"),
    tile(t("admin.dash.version"), d.version, t("admin.dash.servicesUp", { count: d.services.filter((s) => s.up).length, total: d.services.length }), "tile-version"));
  const services = table([
    { label: t("admin.dash.service"), value: (s) => s.name },
    { label: t("admin.dash.address"), value: (s) => s.addr, cls: "mono" },
    { label: t("admin.dash.state"), value: (s) => badge(t(s.up ? "admin.dash.up" : "admin.dash.down"), s.up ? "ok" : "bad") },
  ], d.services, { test: "services", rowTest: (s) => "service-" + s.name });
  const certs = table([
    { label: t("admin.dash.names"), value: (c) => (c.names && c.names.length ? c.names.join(", ") : c.subject) },
    { label: t("admin.dash.issuer"), value: (c) => c.issuer },
    { label: t("admin.dash.expires"), value: (c) => when(c.not_after) },
    { label: t("admin.dash.daysLeft"), value: (c) => badge(t("admin.dash.days", { count: c.days_left }), c.days_left < 14 ? "bad" : c.days_left < 30 ? "warn" : "ok") },
  ], d.certificates || [], { test: "certs", empty: t("admin.dash.noCerts") });
  target.replaceChildren(
    header(t("admin.nav.dashboard")),
    tiles,
    section(t("admin.dash.traffic"), chart(d.per_hour || [])),
    section(t("admin.dash.services"), services),
    section(t("admin.dash.certificates"), certs));
}

function tile(label, value, sub, test) {
  return el("div", { class: "adm-tile", "data-test": test }, el("div", { class: "adm-tile-label", text: label }),
    el("div", { class: "adm-tile-value", text: value }), el("div", { class: "adm-tile-sub", text: sub }));
}

function svg(tag, attrs, ...children) {
  const n = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const c of children) if (c) n.append(c);
  return n;
}

// chart draws one line per kind of event over the hours; the legend
// carries each series' total so the numbers are readable without hovering.
export function chart(hours) {
  // The drawing is about as wide as the screen, so its text stays
  // readable on a phone; labels every 6 hours, or 12 when narrow.
  const W = Math.round(Math.max(340, Math.min(960, window.innerWidth - 80))), H = W < 600 ? 220 : 260, L = 40, R = 8, T = 12, B = 28;
  const every = W < 600 ? 12 : 6;
  const max = Math.max(1, ...hours.flatMap((h) => SERIES.map((s) => h[s] || 0)));
  const top = niceMax(max);
  const x = (i) => L + (hours.length <= 1 ? 0 : (i * (W - L - R)) / (hours.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "adm-chart", role: "img", "data-test": "chart",
    "aria-label": t("admin.dash.chartLabel", { hours: hours.length }) });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, document.createTextNode(formatNumber(v))));
  }
  hours.forEach((h, i) => {
    const d = new Date(h.hour);
    if (d.getHours() % every === 0) {
      // A label near the right edge ends there instead of running past it.
      const anchor = x(i) > W - R - 40 ? "end" : "middle";
      root.append(svg("text", { x: anchor === "end" ? W - R : x(i), y: H - 8, class: "axis", "text-anchor": anchor },
        document.createTextNode(axisLabel(d))));
    }
  });
  for (const s of SERIES) {
    const pts = hours.map((h, i) => `${x(i).toFixed(1)},${y(h[s] || 0).toFixed(1)}`).join(" ");
    const line = svg("polyline", { points: pts, class: "series s-" + s, "data-series": s });
    line.append(svg("title", {}, document.createTextNode(t("admin.dash.series." + s))));
    root.append(line);
  }
  const legend = el("ul", { class: "adm-legend", "data-test": "chart-legend" }, ...SERIES.map((s) => {
    const total = hours.reduce((a, h) => a + (h[s] || 0), 0);
    return el("li", { "data-series": s }, el("span", { class: "swatch s-" + s }), t("admin.dash.series." + s) + " ", el("b", { text: formatNumber(total) }));
  }));
  return el("figure", { class: "adm-chart-wrap" }, root, legend);
}

// axisLabel is the day at midnight, the hour otherwise.
function axisLabel(d) {
  const opts = d.getHours() === 0 ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(currentLang(), opts).format(d);
}

export function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 4, 5, 10]) if (v <= m * p) return Math.max(4, m * p);
  return 10 * p;
}
