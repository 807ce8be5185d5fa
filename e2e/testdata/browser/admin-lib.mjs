// Helpers the web admin's browser scripts share (admin.mjs,
// admin-manage.mjs): pages that record errors and foreign requests, the
// wait for a screen to finish rendering, the login.
import { sel, watchRequests } from "./lib.mjs";

// Pages opens pages in new browser contexts and collects what went wrong
// on them.
export class Pages {
  constructor(browser) {
    this.browser = browser;
    this.watched = [];
    this.pageErrors = [];
    this.consoleErrors = [];
  }

  // foreign are the requests for other origins than the page's.
  get foreign() {
    return this.watched.flat();
  }

  async open(origin, opts = {}) {
    const context = await this.browser.newContext(Object.assign({ viewport: { width: 1280, height: 800 }, locale: "en-US" }, opts));
    // watchRequests fills its list as the pages load: keep the list, not
    // a copy of it as it is now (empty).
    this.watched.push(watchRequests(context, origin));
    const page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on("pageerror", (e) => this.pageErrors.push(String(e && e.message)));
    page.on("console", (m) => m.type() === "error" && this.consoleErrors.push(m.text()));
    return { context, page };
  }
}

// ready waits for a screen to finish rendering.
export async function ready(page, screen) {
  await page.locator(`${sel("screen-" + screen)}[data-ready="1"]`).waitFor();
}

export async function adminLogin(page, base, user, pass, totp) {
  await page.goto(base + "/admin/");
  await page.locator(sel("login-form")).waitFor();
  await page.fill(sel("login-username"), user);
  await page.fill(sel("login-password"), pass);
  if (totp) {
    await page.click(sel("login-use-totp"));
    await page.fill(sel("login-totp"), totp);
  }
  await page.click(sel("login-submit"));
  await page.locator(sel("nav")).waitFor();
}

export async function textOf(page, name) {
  return (await page.locator(sel(name)).first().innerText()).trim();
}
