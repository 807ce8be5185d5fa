// attacks.mjs opens each hostile HTML message of the corpus in Chromium
// and records everything that could show a script running or a request
// leaving for the message's remote hosts (which all resolve to the Go
// test's beacon; each message has its own remote host name, so a hit is
// told to belong to one message whatever else runs at the time). Two
// ways in:
//   direct: every message's sanitised body in an iframe with exactly the
//     sandbox the reader uses, on a page of the webmail's origin (the
//     server's side, whatever the SPA does), with remote content blocked
//     and then allowed; a few pages at once;
//   reader: for a sample (messages with remote content blocked, up to
//     readerMax, those whose images loaded first, and some others), the SPA's /m/{id}, its reader-html
//     iframe and remote-blocked bar, then "allow once".
// The Go test (e2e/webmail_attacks_test.go) asserts the output.
import { launch, readInput, output, sel, firstLines, loginByAPI, login } from "./lib.mjs";

const input = await readInput();
const { base, user, pass, beacon, control, attacks, baselineID, shotDir } = input;
const workers = input.workers || 3;
const readerMax = input.readerMax || 12;
const SETTLE_MS = 250; // for late effects: meta refresh, animations, timers
const SANDBOX = "allow-popups allow-popups-to-escape-sandbox";
const STEP_MS = 12000; // one message, one way in
// The whole run stops taking new messages after budgetMs and says so,
// so that a hanging browser still gives a report before the Go timeout.
const deadline = Date.now() + (input.budgetMs || 110000);
const overBudget = () => Date.now() > deadline;

const browser = await launch({ beacon });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
context.setDefaultTimeout(8000);

// watch gives a page a current record that its events go to.
function watch(page) {
  const w = { page, rec: null };
  page.on("dialog", async (d) => {
    w.rec?.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on("console", (m) => w.rec?.consoles.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => w.rec?.consoles.push(`pageerror: ${e.message}`));
  page.on("popup", (p) => {
    w.rec?.popups.push(p.url());
    p.close().catch(() => {});
  });
  page.on("request", (req) => {
    const url = req.url();
    if (url.startsWith(base + "/") || url.startsWith("data:") || url.startsWith("about:") || url.startsWith("blob:")) return;
    w.rec?.requests.push({ url, type: req.resourceType() });
  });
  return w;
}

async function beaconTotal() {
  const r = await fetch(`http://${beacon}${control}/hits?since=1000000000`);
  return (await r.json()).total;
}
async function beaconSince(n, host = "") {
  const r = await fetch(`http://${beacon}${control}/hits?since=${n}&host=${encodeURIComponent(host)}`);
  return (await r.json()).hits || [];
}

// frameOf finds the frame of page showing /webmail/html/{id}.
function frameOf(page, id, remote) {
  return page.frames().find((f) => f.url().includes(`/webmail/html/${id}`) && (remote === undefined || f.url().includes(`remote=${remote}`)));
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
      return { globals: Object.keys(window), cookie, text: document.body ? document.body.innerText : "" };
    });
  } catch (e) {
    return { error: firstLines(e, 1) };
  }
}

let baselineGlobals = [];
function newGlobals(found) {
  if (!found || !found.globals) return [];
  const known = new Set(baselineGlobals);
  // numeric keys are nested frames (judged by the server-side checks)
  return found.globals.filter((g) => !known.has(g) && !/^\d+$/.test(g));
}

// openDirect shows /webmail/html/{id}?remote=r in a sandboxed iframe on
// the worker's page and waits for it to load and settle.
async function openDirect(page, id, remote) {
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
  return frameOf(page, id, remote);
}

// observe runs fn with w's events going to a fresh record, and adds the
// beacon's hits for the attack's host meanwhile.
async function observe(w, host, fn) {
  const rec = { error: "", dialogs: [], consoles: [], popups: [], requests: [] };
  w.rec = rec;
  const mark = await beaconTotal();
  let timer;
  try {
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STEP_MS} ms`)), STEP_MS);
    });
    Object.assign(rec, (await Promise.race([fn(), limit])) || {});
  } catch (e) {
    rec.error = firstLines(e);
  } finally {
    clearTimeout(timer);
  }
  await new Promise((r) => setTimeout(r, 50));
  w.rec = null;
  rec.hits = await beaconSince(mark, host);
  return rec;
}

function summary(found) {
  return { inspectError: found.error || "", newGlobals: newGlobals(found), cookie: found.cookie ?? "", hello: (found.text || "").includes("Hello") };
}

const result = { login: "", topCookie: "", direct: [], reader: [], readerError: "", shots: [] };
const main = watch(await context.newPage());

// Log in: through the SPA's form when it is there, else through the
// server's endpoint, so that the server's half is tested either way.
try {
  await login(main.page, base, user, pass);
  result.login = "form";
} catch (e) {
  result.loginFormError = firstLines(e);
  try {
    await loginByAPI(main.page, base, user, pass);
    result.login = "api";
  } catch (e2) {
    result.loginError = firstLines(e2);
    output(result);
    await browser.close();
    process.exit(0);
  }
}
result.topCookie = await main.page.evaluate(() => document.cookie);

// Direct, a few pages at once.
const pool = [];
for (let i = 0; i < workers; i++) {
  const w = watch(await context.newPage());
  await w.page.goto(base + "/webmail/session");
  pool.push(w);
}
{
  const f = await openDirect(pool[0].page, baselineID, 0);
  const found = await inspect(f);
  baselineGlobals = found.globals || [];
  result.baseline = { error: found.error || "", globals: baselineGlobals.length };
}
const started = Date.now();
let next = 0;
await Promise.all(
  pool.map(async (w) => {
    while (next < attacks.length && !overBudget()) {
      const a = attacks[next++];
      const r0 = await observe(w, a.host, async () => summary(await inspect(await openDirect(w.page, a.id, 0))));
      let r1 = null;
      if (a.blocked > 0) r1 = await observe(w, a.host, async () => summary(await inspect(await openDirect(w.page, a.id, 1))));
      result.direct.push({ name: a.name, id: a.id, remote0: r0, remote1: r1 });
    }
  }),
);
result.directMs = Date.now() - started;
for (const w of pool) await w.page.close();

// Reader: the SPA as a user meets the message, for a sample.
// first the messages whose remote images loaded once allowed, so that
// "allow once" in the reader has something to load
const loaded = new Set(result.direct.filter((r) => r.remote1 && r.remote1.hits.length > 0).map((r) => r.name));
const blocked = attacks
  .filter((a) => a.blocked > 0)
  .sort((x, y) => Number(loaded.has(y.name)) - Number(loaded.has(x.name)))
  .slice(0, readerMax);
const others = attacks.filter((a) => !(a.blocked > 0)).filter((_, i) => i % 10 === 0);
const sample = [...blocked, ...others];
const page = main.page;
let failures = 0;
for (const a of sample) {
  if (overBudget()) {
    result.readerError = `time budget spent after ${result.reader.length} of ${sample.length} messages`;
    break;
  }
  if (result.login !== "form") {
    result.readerError = `the login form did not work: ${result.loginFormError}`;
    break;
  }
  const entry = { name: a.name, id: a.id };
  entry.remote0 = await observe(main, a.host, async () => {
    await page.goto(`${base}/m/${encodeURIComponent(a.id)}`);
    const iframe = page.locator(sel("reader-html"));
    await iframe.waitFor({ state: "attached" });
    const attrs = await iframe.evaluate((el) => ({
      tag: el.tagName.toLowerCase(),
      hasSandbox: el.hasAttribute("sandbox"),
      sandbox: el.getAttribute("sandbox"),
      referrerpolicy: el.getAttribute("referrerpolicy"),
      src: el.getAttribute("src"),
    }));
    for (let i = 0; i < 50 && !frameOf(page, a.id); i++) await page.waitForTimeout(100);
    const f = frameOf(page, a.id);
    if (f) await f.waitForLoadState("load", { timeout: 5000 }).catch(() => {});
    await page.waitForTimeout(SETTLE_MS);
    const bar = await page.locator(sel("remote-blocked")).isVisible().catch(() => false);
    return { attrs, bar, ...summary(await inspect(f)) };
  });
  if (entry.remote0.error && ++failures >= 2 && result.reader.every((r) => r.remote0.error)) {
    result.reader.push(entry);
    result.readerError = `the reader did not show two messages in a row: ${entry.remote0.error}`;
    break;
  }
  if (!entry.remote0.error && entry.remote0.bar) {
    entry.remote1 = await observe(main, a.host, async () => {
      await page.click(sel("allow-remote-once"));
      // the reader swaps the iframe's src to remote=1 (or replaces it)
      await page.waitForFunction(
        (s) => /[?&]remote=1/.test(document.querySelector(s)?.getAttribute("src") || ""),
        sel("reader-html"),
        { timeout: 5000 },
      );
      for (let i = 0; i < 50 && !frameOf(page, a.id, 1); i++) await page.waitForTimeout(100);
      const f = frameOf(page, a.id, 1);
      if (f) await f.waitForLoadState("load", { timeout: 5000 }).catch(() => {});
      await page.waitForTimeout(SETTLE_MS);
      const bar = await page.locator(sel("remote-blocked")).isVisible().catch(() => false);
      return { bar, ...summary(await inspect(f)) };
    });
    if (shotDir && result.shots.length === 0) {
      const path = `${shotDir}/attack-reader-allowed-${a.name.replace(/[^A-Za-z0-9_.-]/g, "_")}.png`;
      await page.screenshot({ path }).catch(() => {});
      result.shots.push(path);
    }
  }
  result.reader.push(entry);
}
result.readerSample = sample.length;

// Hits no message can be blamed for: a TLS handshake without a server name.
result.unattributed = (await beaconSince(0)).filter((h) => !h.host);
output(result);
await browser.close();
