// devices.mjs opens the settings page "Phones and mail apps" in English
// and Simplified Chinese at a phone's and a desktop's width, checks the
// profile download link and that it downloads a profile for the user,
// and saves screenshots into shotDir for people to look at.
import { launch, readInput, output, sel, Steps, check, login } from "./lib.mjs";

const { base, user, pass, shotDir } = await readInput();
const steps = new Steps();
const shots = [];
const browser = await launch();
const sizes = [
  { name: "phone", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  { name: "desktop", viewport: { width: 1280, height: 800 } },
];

for (const lang of ["en", "zh-CN"]) {
  for (const size of sizes) {
    const context = await browser.newContext({ viewport: size.viewport, isMobile: !!size.isMobile, hasTouch: !!size.hasTouch,
      locale: lang === "en" ? "en-US" : "zh-CN", deviceScaleFactor: 1, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    const file = `${shotDir}/${lang}-${size.name}-settings-devices.png`;
    await steps.run(`${lang} ${size.name}: the profile link`, async (info) => {
      try {
        await login(page, base, user, pass);
        await page.evaluate(async (lang) => {
          const s = await (await fetch("/webmail/session", { credentials: "same-origin" })).json();
          await fetch("/webmail/prefs", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf }, body: JSON.stringify({ lang }) });
        }, lang);
        await page.goto(base + "/settings/devices");
        const link = page.locator(sel("mobileconfig-link"));
        await link.waitFor();
        const text = await link.innerText();
        info.text = text;
        check(text.includes(user), `the link says ${JSON.stringify(text)}, without the address`);
        check((await link.getAttribute("href")) === "/webmail/mobileconfig", "the link's href");
        if (lang === "zh-CN") check(/[\u4e00-\u9fff]/.test(text), "the link is not in Chinese");
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        check(width <= size.viewport.width + 1, `the page is ${width}px wide at a ${size.viewport.width}px viewport`);
        await page.waitForTimeout(250);
        await page.screenshot({ path: file });
        shots.push(file);
        if (size.name === "desktop") {
          const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
          info.filename = download.suggestedFilename();
          check(info.filename.endsWith(".mobileconfig"), `downloaded ${info.filename}`);
          const path = await download.path();
          const body = (await import("node:fs")).readFileSync(path, "utf8");
          check(body.includes("<string>" + user + "</string>") && body.includes("com.apple.mail.managed"), "the download is not the user's profile");
        }
      } catch (e) {
        await page.screenshot({ path: file }).catch(() => {});
        throw e;
      }
    });
    await context.close();
  }
}

output({ steps: steps.list, shots });
await browser.close();
