// screens.mjs saves screenshots of the main screens (inbox, message,
// compose, settings) in English and Simplified Chinese at a phone's and a
// desktop's width into shotDir, and checks that each screen showed what it
// should in the right language. The files are for people to look at.
import { gzipSync } from "node:zlib";
import { launch, readInput, output, sel, Steps, check, login, loginByAPI, watchRequests } from "./lib.mjs";

const input = await readInput();
const { base, user, pass, shotDir, inboxID, messageID } = input;
const steps = new Steps();
const shots = [];
const browser = await launch();

const sizes = [
  { name: "phone", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  { name: "desktop", viewport: { width: 1280, height: 800 } },
];
const screens = [
  { name: "inbox", path: `/f/${inboxID}`, wait: "message-list" },
  { name: "message", path: `/m/${messageID}`, wait: "reader-subject" },
  { name: "compose", path: "/compose", wait: "compose-form" },
  { name: "settings", path: "/settings", wait: "settings-nav" },
];
// Each context's list fills as its pages load: keep the lists, flatten at the end.
const watched = [];
// JS and CSS of the first load (the first context: login, then the inbox),
// gzip-compressed as a server or proxy would send them.
const assets = [];
const seenAssets = new Set();
let firstLoad = true;

for (const lang of ["en", "zh-CN"]) {
  for (const size of sizes) {
    const context = await browser.newContext({ viewport: size.viewport, isMobile: !!size.isMobile, hasTouch: !!size.hasTouch, locale: lang === "en" ? "en-US" : "zh-CN", deviceScaleFactor: 1 });
    watched.push(watchRequests(context, base));
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    if (firstLoad) {
      page.on("response", async (r) => {
        const type = r.request().resourceType();
        // each file once: a reload answers from the cache again
        if (!firstLoad || (type !== "script" && type !== "stylesheet") || seenAssets.has(r.url())) return;
        seenAssets.add(r.url());
        try {
          const body = await r.body();
          assets.push({ url: r.url(), type, bytes: body.length, gzip: gzipSync(body).length });
        } catch {}
      });
    }
    const ok = await steps.run(`${lang} ${size.name}: log in, choose the language`, async () => {
      try {
        await login(page, base, user, pass);
      } catch (e) {
        await page.screenshot({ path: `${shotDir}/${lang}-${size.name}-login.png` }).catch(() => {});
        shots.push(`${shotDir}/${lang}-${size.name}-login.png`);
        await loginByAPI(page, base, user, pass);
        throw e;
      }
      // the saved preference wins over the browser's language
      const status = await page.evaluate(async (lang) => {
        const s = await (await fetch("/webmail/session", { credentials: "same-origin" })).json();
        const r = await fetch("/webmail/prefs", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf }, body: JSON.stringify({ lang }) });
        return r.status;
      }, lang);
      check(status >= 200 && status < 300, `POST /webmail/prefs {lang: ${lang}}: ${status}`);
      return true;
    });
    if (firstLoad) {
      await page.goto(`${base}/f/${inboxID}`).catch(() => {});
      await page.waitForLoadState("networkidle").catch(() => {});
      firstLoad = false;
    }
    for (const sc of screens) {
      await steps.run(`${lang} ${size.name}: ${sc.name}`, async (info) => {
        const file = `${shotDir}/${lang}-${size.name}-${sc.name}.png`;
        try {
          await page.goto(base + sc.path);
          await page.locator(sel(sc.wait)).first().waitFor();
          if (sc.name === "message") {
            const f = page.locator(sel("reader-html"));
            if (await f.count()) {
              const frame = await (await f.elementHandle()).contentFrame();
              if (frame) await frame.waitForLoadState("load").catch(() => {});
            }
          }
          await page.waitForTimeout(250); // fonts and icons settle
          const htmlLang = await page.evaluate(() => document.documentElement.lang);
          info.lang = htmlLang;
          check(htmlLang === lang, `<html lang="${htmlLang}">, want ${lang}`);
          if (lang === "zh-CN") {
            const visible = await page.evaluate(() => document.body.innerText);
            check(/[\u4e00-\u9fff]/.test(visible), "no Chinese text on the screen");
          }
          const width = await page.evaluate(() => document.documentElement.scrollWidth);
          check(width <= size.viewport.width + 1, `the page is ${width}px wide at a ${size.viewport.width}px viewport (horizontal scroll)`);
        } finally {
          await page.screenshot({ path: file }).catch(() => {});
          shots.push(file);
        }
      });
    }
    void ok;
    await context.close();
  }
}

output({ steps: steps.list, shots, foreign: watched.flat(), assets });
await browser.close();
