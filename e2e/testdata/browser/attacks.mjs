// attacks.mjs opens each hostile HTML message of the corpus in Chromium
// and records everything that could show a script running or a request
// leaving for the message's remote hosts (which all resolve to the Go
// test's beacon). Two ways in:
//   direct: the sanitised body in an iframe with exactly the sandbox the
//     reader uses, on a page of the webmail's origin (the server's side,
//     whatever the SPA does);
//   reader: the SPA's /m/{id}, its reader-html iframe and its
//     remote-blocked bar, then "allow once".
// The Go test (e2e/webmail_attacks_test.go) asserts the output.
import { launch, readInput, output, sel, firstLines, loginByAPI, login, check } from "./lib.mjs";

const input = await readInput();
const { base, user, pass, beacon, control, attacks, baselineID, shotDir } = input;
const SETTLE_MS = 400; // for late effects: meta refresh, animations, timers
const SANDBOX = "allow-popups allow-popups-to-escape-sandbox";

const browser = await launch({ beacon });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.setDefaultTimeout(8000);

// Everything observable, reset per attack.
let events = newEvents();
function newEvents() {
  return { dialogs: [], consoles: [], requests: [], popups: [] };
}
page.on("dialog", async (d) => {
  events.dialogs.push(`${d.type()}: ${d.message()}`);
  await d.dismiss().catch(() => {});
});
page.on("console", (m) => events.consoles.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => events.consoles.push(`pageerror: ${e.message}`));
context.on("page", (p) => {
  if (p !== page) {
    events.popups.push(p.url());
    p.close().catch(() => {});
  }
});
context.on("request", (req) => {
  const url = req.url();
  if (url.startsWith(base + "/") || url.startsWith("data:") || url.startsWith("about:") || url.startsWith("blob:")) return;
  events.requests.push({ url, type: req.resourceType() });
});

async function beaconTotal() {
  const r = await fetch(`http://${beacon}${control}/hits?since=1000000000`);
  return (await r.json()).total;
}
async function beaconSince(n) {
  const r = await fetch(`http://${beacon}${control}/hits?since=${n}`);
  return (await r.json()).hits;
}

// frameOf finds the frame showing /webmail/html/{id}.
function frameOf(id) {
  return page.frames().find((f) => f.url().includes(`/webmail/html/${encodeURIComponent(id)}`) || f.url().includes(`/webmail/html/${id}`));
}

// inspect reads, inside the message's frame, what a script would have
// left: its own globals, and what document.cookie shows.
async function inspect(frame) {
  if (!frame) return { error: "no frame showing the message" };
  try {
    return await frame.evaluate(() => {
      let cookie;
      try {
        cookie = document.cookie;
      } catch (e) {
        cookie = `(threw ${e.name})`;
      }
      return { globals: Object.keys(window), cookie, scripts: document.querySelectorAll("script").length };
    });
  } catch (e) {
    return { error: firstLines(e, 1) };
  }
}

let baselineGlobals = [];

// openDirect shows /webmail/html/{id}?remote=r in a sandboxed iframe on a
// page of the webmail's origin and waits for it to load and settle.
async function openDirect(id, remote) {
  const src = `/webmail/html/${encodeURIComponent(id)}?remote=${remote}`;
  await page.evaluate(
    ({ src, sandbox }) =>
      new Promise((resolve) => {
        document.body.replaceChildren();
        const f = document.createElement("iframe");
        f.setAttribute("sandbox", sandbox);
        f.setAttribute("referrerpolicy", "no-referrer");
        f.addEventListener("load", () => resolve());
        f.src = src;
        document.body.append(f);
        setTimeout(resolve, 5000);
      }),
    { src, sandbox: SANDBOX },
  );
  await page.waitForTimeout(SETTLE_MS);
  return frameOf(id);
}

function newGlobals(found) {
  if (!found || !found.globals) return [];
  const base = new Set(baselineGlobals);
  return found.globals.filter((g) => !base.has(g));
}

// observe runs fn and returns what happened meanwhile.
async function observe(fn) {
  events = newEvents();
  const mark = await beaconTotal();
  let error = "";
  let extra = {};
  try {
    extra = (await fn()) || {};
  } catch (e) {
    error = firstLines(e);
  }
  const hits = await beaconSince(mark);
  return { error, hits, ...events, ...extra };
}

const result = { login: "", topCookie: "", direct: [], reader: [], readerError: "", shots: [] };

// Log in: through the SPA's form when it is there, else through the
// server's endpoint, so that the server's half is tested either way.
try {
  await login(page, base, user, pass);
  result.login = "form";
} catch (e) {
  result.loginFormError = firstLines(e);
  try {
    await loginByAPI(page, base, user, pass);
    result.login = "api";
  } catch (e2) {
    result.loginError = firstLines(e2);
    output(result);
    await browser.close();
    process.exit(0);
  }
}
result.topCookie = await page.evaluate(() => document.cookie);

// Direct: the server's sanitised HTML under the reader's sandbox.
await page.goto(base + "/webmail/session");
{
  const f = await openDirect(baselineID, 0);
  const found = await inspect(f);
  baselineGlobals = found.globals || [];
  result.baseline = { error: found.error || "", globals: baselineGlobals.length };
}
for (const a of attacks) {
  const r0 = await observe(async () => {
    const f = await openDirect(a.id, 0);
    const found = await inspect(f);
    return { inspectError: found.error || "", newGlobals: newGlobals(found), cookie: found.cookie ?? "" };
  });
  let r1 = null;
  if (a.blocked > 0) {
    r1 = await observe(async () => {
      const f = await openDirect(a.id, 1);
      const found = await inspect(f);
      return { inspectError: found.error || "", newGlobals: newGlobals(found), cookie: found.cookie ?? "" };
    });
  }
  result.direct.push({ name: a.name, id: a.id, remote0: r0, remote1: r1 });
}

// Reader: the SPA as a user meets the message.
let readerFailures = 0;
for (const a of attacks) {
  if (result.login !== "form") {
    result.readerError = `the login form did not work: ${result.loginFormError}`;
    break;
  }
  const entry = { name: a.name, id: a.id };
  entry.remote0 = await observe(async () => {
    await page.goto(`${base}/m/${encodeURIComponent(a.id)}`);
    const iframe = page.locator(sel("reader-html"));
    await iframe.waitFor({ state: "attached", timeout: 8000 });
    const attrs = await iframe.evaluate((el) => ({
      tag: el.tagName.toLowerCase(),
      hasSandbox: el.hasAttribute("sandbox"),
      sandbox: el.getAttribute("sandbox"),
      referrerpolicy: el.getAttribute("referrerpolicy"),
      src: el.getAttribute("src"),
    }));
    // the frame's own load, then time for late effects
    for (let i = 0; i < 50 && !frameOf(a.id); i++) await page.waitForTimeout(100);
    const f = frameOf(a.id);
    if (f) await f.waitForLoadState("load", { timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(SETTLE_MS);
    const found = await inspect(f);
    const bar = await page.locator(sel("remote-blocked")).isVisible().catch(() => false);
    return { attrs, bar, inspectError: found.error || "", newGlobals: newGlobals(found), cookie: found.cookie ?? "" };
  });
  if (entry.remote0.error) {
    readerFailures++;
    if (readerFailures >= 2 && result.reader.every((r) => r.remote0.error)) {
      result.reader.push(entry);
      result.readerError = `the reader did not show two messages in a row: ${entry.remote0.error}`;
      break;
    }
  }
  if (!entry.remote0.error && entry.remote0.bar) {
    entry.remote1 = await observe(async () => {
      await page.click(sel("allow-remote-once"));
      // the reader swaps the iframe's src to remote=1 (or replaces it)
      await page.waitForFunction(
        (s) => {
          const el = document.querySelector(s);
          return el && /[?&]remote=1/.test(el.getAttribute("src") || "");
        },
        sel("reader-html"),
        { timeout: 5000 },
      );
      for (let i = 0; i < 50 && !page.frames().some((f) => f.url().includes("remote=1")); i++) await page.waitForTimeout(100);
      const f = page.frames().find((fr) => fr.url().includes("remote=1"));
      if (f) await f.waitForLoadState("load", { timeout: 5000 }).catch(() => {});
      await page.waitForTimeout(SETTLE_MS);
      const found = await inspect(f);
      const bar = await page.locator(sel("remote-blocked")).isVisible().catch(() => false);
      return { bar, inspectError: found.error || "", newGlobals: newGlobals(found), cookie: found.cookie ?? "" };
    });
    if (shotDir && result.shots.length === 0) {
      const path = `${shotDir}/attack-reader-allowed-${a.name.replace(/[^A-Za-z0-9_.-]/g, "_")}.png`;
      await page.screenshot({ path }).catch(() => {});
      result.shots.push(path);
    }
  }
  result.reader.push(entry);
}

output(result);
await browser.close();
