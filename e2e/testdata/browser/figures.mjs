// figures.mjs measures the webmail in Chromium for the figures
// (bench/webmail_test.go runs it on a big mailbox): time from navigation
// to the inbox list painted, time to open a message, time to switch
// folder, and the JS+CSS bytes (gzip) of the first load. Each time is
// taken inside the page (performance.now(), at the animation frame after
// the DOM shows the result), `runs` times, each in a fresh browser
// context (cold cache, logged in by cookie).
import { gzipSync } from "node:zlib";
import { launch, readInput, output, sel, loginByAPI, firstLines } from "./lib.mjs";

const input = await readInput();
const { base, user, pass, inboxID, otherID, otherIDs, runs = 5 } = input;
const browser = await launch();

// a session cookie for every run's fresh context
const first = await browser.newContext();
const p0 = await first.newPage();
await loginByAPI(p0, base, user, pass);
const cookies = await first.cookies(base);
await first.close();

// marks is injected before the SPA's scripts: it notes, at the animation
// frame after they appear, when the first message row and the reader's
// subject are in the DOM.
function marks() {
  window.__marks = {};
  const seen = (name, test) => {
    if (window.__marks[name] !== undefined || !test()) return;
    window.__marks[name] = -1;
    requestAnimationFrame(() => {
      window.__marks[name] = performance.now();
    });
  };
  const check = () => {
    seen("listPainted", () => document.querySelector('[data-test="message-row"]'));
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true });
}

// until waits in the page for cond, then for the next animation frame,
// and returns performance.now() then.
async function paintedWhen(page, cond, arg) {
  await page.waitForFunction(cond, arg, { timeout: 30000, polling: "raf" });
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
}

const res = { listPaint: [], openMessage: [], switchFolder: [], errors: [], assets: [], apiCalls: [] };
let navStart = 0;
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addCookies(cookies);
  await context.addInitScript(marks);
  const page = await context.newPage();
  const bodies = [];
  if (i === 0) {
    // what the inbox's first paint waited for: each JMAP request's methods
    // and time (its start relative to navigation, and its duration)
    page.on("requestfinished", (req) => {
      if (!req.url().includes("/jmap/api")) return;
      let methods = "";
      try {
        methods = JSON.parse(req.postData() || "{}").methodCalls.map((c) => c[0]).join(",");
      } catch {}
      const t = req.timing();
      res.apiCalls.push({ methods, startMs: Math.round(t.startTime - navStart), ms: Math.round(t.responseEnd) });
    });
    page.on("response", async (r) => {
      const type = r.request().resourceType();
      if (type !== "script" && type !== "stylesheet") return;
      try {
        const body = await r.body();
        bodies.push({ url: r.url(), type, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length, encoding: r.headers()["content-encoding"] || "" });
      } catch {}
    });
  }
  try {
    navStart = Date.now();
    await page.goto(`${base}/f/${inboxID}`);
    await page.waitForFunction(() => window.__marks && window.__marks.listPainted > 0, null, { timeout: 30000, polling: 50 });
    res.listPaint.push(await page.evaluate(() => window.__marks.listPainted));
    if (i === 0) {
      // first load: what the inbox needed, lazily loaded modules included
      await page.waitForLoadState("networkidle").catch(() => {});
      res.assets = [...bodies];
    }

    // open the first message
    const row = page.locator(`${sel("message-row")}`).first();
    const id = await row.getAttribute("data-id");
    const t0 = await page.evaluate((s) => {
      const t = performance.now();
      document.querySelector(s).click();
      return t;
    }, `${sel("message-row")}[data-id="${id}"]`);
    const t1 = await paintedWhen(page, (s) => {
      const el = document.querySelector(s[0]);
      return el && el.textContent.trim() !== "" && (document.querySelector(s[1]) || document.querySelector(s[2]));
    }, [sel("reader-subject"), sel("reader-text"), sel("reader-html")]);
    res.openMessage.push(t1 - t0);

    // switch to the other folder: done when its rows show
    await page.goto(`${base}/f/${inboxID}`);
    await page.waitForSelector(sel("message-row"));
    const t2 = await page.evaluate((s) => {
      const t = performance.now();
      document.querySelector(s).click();
      return t;
    }, `${sel("mailbox")}[data-id="${otherID}"]`);
    const t3 = await paintedWhen(page, ({ s, ids }) => {
      const r = document.querySelector(s);
      return r && ids.includes(r.getAttribute("data-id"));
    }, { s: sel("message-row"), ids: otherIDs });
    res.switchFolder.push(t3 - t2);
  } catch (e) {
    res.errors.push(`run ${i + 1}: ${firstLines(e)}`);
  }
  await context.close();
}
output(res);
await browser.close();
