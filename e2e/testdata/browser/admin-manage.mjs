// admin-manage.mjs drives the parts of the web admin that remove or
// refuse things, in phases the Go test (TestAdminUIManage) runs one after
// another, checking the server's state between them:
//   empty:   the server administrator looks at the dashboard before any
//            mail has come in;
//   manage:  the dashboard counts the bodies delivered since; a domain is
//            deleted only when its name is typed again right; an alias is
//            deleted; global Sieve scripts with a syntax error are refused
//            with their line and column;
//   sieve:   valid global scripts are saved and listed;
//   deputy:  a domain administrator opens an account of its domain, and
//            one of another domain by URL, which is refused;
//   screens: the screens touched, in en and zh-CN at 390x844 and
//            1280x800, saved under shotDir.
import { launch, readInput, output, sel, Steps, check } from "./lib.mjs";
import { Pages, ready, adminLogin, textOf } from "./admin-lib.mjs";

const input = await readInput();
const A = input.admin;
const steps = new Steps();
const browser = await launch();
const pages = new Pages(browser);
const shots = [];

async function rootPage(opts) {
  const { page } = await pages.open(A, opts);
  await steps.run("root: log in", () => adminLogin(page, A, input.root, input.rootPass), { required: true });
  return page;
}

async function shoot(page, name) {
  const file = `${input.shotDir}/admin-manage-${name}.png`;
  await page.waitForTimeout(150);
  await page.screenshot({ path: file });
  shots.push(file);
}

// apiStatus is the status of a GET of the admin API from the page, with
// the page's session.
function apiStatus(page, path) {
  return page.evaluate(async (p) => (await fetch("/admin/api" + p, { cache: "no-store" })).status, path);
}

// diskShown is the dashboard's body figure as the page shows it and as
// the API answers it at the same moment.
async function diskShown(page, info) {
  await page.goto(A + "/admin/dashboard");
  await ready(page, "dashboard");
  info.tile = await page.locator(`${sel("tile-disk")} .adm-tile-value`).innerText();
  info.apiBodies = await page.evaluate(async () => (await (await fetch("/admin/api/dashboard", { cache: "no-store" })).json()).disk.bodies_bytes);
}

async function empty() {
  const page = await rootPage();
  await steps.run("dashboard: before any mail", (info) => diskShown(page, info));
}

async function manage() {
  const page = await rootPage();
  await steps.run("dashboard: bodies delivered since the last look", async (info) => {
    await diskShown(page, info);
    check(info.apiBodies >= input.minBodies, `the API says ${info.apiBodies} bytes of bodies, the delivered message alone has ${input.minBodies}`);
    check(!/^0\s*B$/.test(info.tile.trim()), "the tile shows " + info.tile);
    await shoot(page, "en-desktop-dashboard");
  });
  await steps.run("domain: a wrong name typed again refuses and keeps it", async (info) => {
    await page.goto(`${A}/admin/domains?domain=${input.gone}`);
    await ready(page, "domains");
    await page.click(sel("domain-delete"));
    await page.locator(sel("confirm-typed")).waitFor();
    await page.fill(sel("confirm-name"), "gone.tset");
    await shoot(page, "en-desktop-domain-delete-dialog");
    await page.click(sel("confirm-ok"));
    await page.locator(`${sel("domain-delete-error")}:visible`).waitFor();
    info.refusal = await textOf(page, "domain-delete-error");
    check(info.refusal.includes("not deleted"), "the server's refusal is not shown: " + info.refusal);
    check(new URL(page.url()).searchParams.get("domain") === input.gone, "the page left the domain: " + page.url());
    info.statusAfter = await apiStatus(page, "/domains/" + input.gone);
    await page.locator(sel("domain-delete-error")).scrollIntoViewIfNeeded();
    await shoot(page, "en-desktop-domain-delete-refused");
  });
  await steps.run("domain: the right name deletes it and its accounts", async (info) => {
    await page.click(sel("domain-delete"));
    await page.fill(sel("confirm-name"), input.gone);
    await page.click(sel("confirm-ok"));
    await page.waitForURL((u) => u.pathname === "/admin/domains" && !u.search.includes("domain="));
    await ready(page, "domains");
    check(await page.locator(sel("domain-" + input.gone)).count() === 0, "the deleted domain is still listed");
    check(await page.locator(sel("domain-" + input.kept)).count() === 1, "the other domain is no longer listed");
    await page.goto(`${A}/admin/accounts?domain=${input.gone}`);
    await ready(page, "accounts");
    info.picker = await page.evaluate(() => [...document.querySelectorAll('[data-test="domain-picker"] option')].map((o) => o.value));
    check(!info.picker.includes(input.gone), "the accounts page still offers the domain: " + info.picker.join(", "));
    for (const a of input.goneAccounts) check(await page.locator(sel("account-" + a)).count() === 0, a + " is still listed");
    info.accountStatuses = {};
    for (const a of input.goneAccounts) info.accountStatuses[a] = await apiStatus(page, "/accounts/" + a);
  });
  await steps.run("alias: delete one, after asking", async (info) => {
    await page.goto(`${A}/admin/aliases?domain=${input.kept}`);
    await ready(page, "aliases");
    const row = `${sel("alias-" + input.alias)} ${sel("alias-delete")}`;
    await page.click(row);
    await page.locator(sel("confirm")).waitFor();
    info.question = (await page.locator(sel("confirm")).innerText()).trim();
    check(info.question.includes(input.alias), "the question does not name the alias: " + info.question);
    await page.keyboard.press("Escape");
    await page.locator(sel("confirm")).waitFor({ state: "detached" });
    check(await page.locator(sel("alias-" + input.alias)).count() === 1, "cancelling deleted the alias");
    await page.click(row);
    await page.click(sel("confirm-ok"));
    await page.locator(sel("alias-" + input.alias)).waitFor({ state: "detached" });
    await ready(page, "aliases");
    check(await page.locator(sel("alias-" + input.keptAlias)).count() === 1, "the other alias went too");
  });
  await steps.run("sieve: global scripts with a syntax error are refused where they are wrong", async (info) => {
    await page.goto(A + "/admin/sieve");
    await ready(page, "sieve");
    for (const which of ["before", "after"]) {
      check(await page.locator(sel(`global-${which}-unset`)).count() === 1, `the ${which} script is not listed as none at first`);
      await page.fill(sel(`global-${which}-script`), input.badScript);
      await page.click(sel(`global-${which}-save`));
      await page.locator(`${sel(`global-${which}-error`)}:visible`).waitFor();
      info[which] = await textOf(page, `global-${which}-error`);
      check((info[which].match(/line \d+, column \d+/gi) || []).length === 1, `the ${which} refusal does not say where, once: ${info[which]}`);
      info[which + "Status"] = await apiStatus(page, "/sieve/global/" + which);
    }
    info.cursorLine = await page.evaluate(() => {
      const a = document.querySelector('[data-test="global-after-script"]');
      return a.value.slice(0, a.selectionStart).split("\n").length;
    });
    await page.locator(sel("global-before-error")).scrollIntoViewIfNeeded();
    await shoot(page, "en-desktop-sieve-refused");
  });
}

async function sieve() {
  const page = await rootPage();
  await steps.run("sieve: valid global scripts are saved and listed", async () => {
    await page.goto(A + "/admin/sieve");
    await ready(page, "sieve");
    for (const which of ["before", "after"]) {
      await page.fill(sel(`global-${which}-script`), input.goodScripts[which]);
      await page.click(sel(`global-${which}-save`));
      await page.locator(sel(`global-${which}-set`)).waitFor();
      await ready(page, "sieve");
      check((await page.locator(sel(`global-${which}-script`)).inputValue()) === input.goodScripts[which], `the ${which} editor does not hold the saved script`);
    }
    await page.reload();
    await ready(page, "sieve");
    for (const which of ["before", "after"]) check(await page.locator(sel(`global-${which}-set`)).count() === 1, `the ${which} script is not listed after a reload`);
  });
}

async function deputy() {
  const { page } = await pages.open(A);
  await steps.run("deputy: log in", () => adminLogin(page, A, input.deputy, input.deputyPass), { required: true });
  await steps.run("deputy: an account of its domain", async (info) => {
    await page.goto(`${A}/admin/accounts?domain=${input.own}`);
    await ready(page, "accounts");
    await page.click(`${sel("account-" + input.ownAccount)} ${sel("account-link")}`);
    await ready(page, "accounts");
    info.usage = await textOf(page, "account-usage");
    check(await page.locator(sel("quota-size")).count() === 1, "no quota form on its own account");
    check(await page.locator(sel("error")).count() === 0, "an error on its own account's page");
  });
  await steps.run("deputy: an account of another domain by URL is refused", async (info) => {
    await page.goto(`${A}/admin/accounts?address=${encodeURIComponent(input.foreignAccount)}`);
    await page.locator(`${sel("screen-accounts")}[data-ready="1"]`).waitFor();
    check(await page.locator(sel("failure-403")).count() === 1, "no refusal shown");
    info.message = await textOf(page, "error");
    check(info.message.includes(input.foreignAccount.split("@")[1]) || info.message.includes(input.foreignAccount), "the refusal does not say what: " + info.message);
    for (const t of ["account-facts", "account-usage", "quota-size", "app-passwords", "sieve-new", "account-delete"]) {
      check(await page.locator(sel(t)).count() === 0, `the other domain's account shows ${t}`);
    }
    info.apiStatus = await apiStatus(page, "/accounts/" + input.foreignAccount);
    await shoot(page, "en-desktop-deputy-refused");
  });
}

// screens photographs the states this script drives, in both languages
// at phone and desktop widths.
async function screens() {
  const sizes = [
    { name: "phone", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
    { name: "desktop", viewport: { width: 1280, height: 800 } },
  ];
  for (const lang of ["en", "zh-CN"]) {
    for (const size of sizes) {
      const opts = { viewport: size.viewport, isMobile: !!size.isMobile, hasTouch: !!size.hasTouch, locale: lang === "en" ? "en-US" : "zh-CN", deviceScaleFactor: 1 };
      const tag = `${lang}-${size.name}`;
      const check1 = async (page, info) => {
        info.width = await page.evaluate(() => document.documentElement.scrollWidth);
        check(info.width <= size.viewport.width + 1, `the page is ${info.width}px wide at ${size.viewport.width}px`);
        if (lang === "zh-CN") check(/[\u4e00-\u9fff]/.test(await page.evaluate(() => document.body.innerText)), "no Chinese text on the screen");
      };
      const root = await pages.open(A, opts);
      await steps.run(`${tag}: root screens`, async (info) => {
        await adminLogin(root.page, A, input.root, input.rootPass);
        await root.page.goto(A + "/admin/sieve");
        await ready(root.page, "sieve");
        await check1(root.page, info);
        await shoot(root.page, `${tag}-sieve`);
        await root.page.fill(sel("global-after-script"), input.badScript);
        await root.page.click(sel("global-after-save"));
        await root.page.locator(`${sel("global-after-error")}:visible`).waitFor();
        await root.page.locator(sel("global-after-error")).scrollIntoViewIfNeeded();
        await shoot(root.page, `${tag}-sieve-refused`);
        await root.page.goto(`${A}/admin/aliases?domain=${input.kept}`);
        await ready(root.page, "aliases");
        await root.page.click(`${sel("alias-" + input.keptAlias)} ${sel("alias-delete")}`);
        await root.page.locator(sel("confirm")).waitFor();
        await shoot(root.page, `${tag}-alias-delete-dialog`);
        await root.page.keyboard.press("Escape");
        await root.page.goto(`${A}/admin/domains?domain=${input.kept}`);
        await ready(root.page, "domains");
        await root.page.click(sel("domain-delete"));
        await root.page.fill(sel("confirm-name"), "x");
        await shoot(root.page, `${tag}-domain-delete-dialog`);
        await root.page.click(sel("confirm-ok"));
        await root.page.locator(`${sel("domain-delete-error")}:visible`).waitFor();
        await root.page.locator(sel("domain-delete-error")).scrollIntoViewIfNeeded();
        await check1(root.page, info);
        await shoot(root.page, `${tag}-domain-delete-refused`);
      });
      await root.context.close();
      const dep = await pages.open(A, opts);
      await steps.run(`${tag}: deputy refused`, async (info) => {
        await adminLogin(dep.page, A, input.deputy, input.deputyPass);
        await dep.page.goto(`${A}/admin/accounts?address=${encodeURIComponent(input.foreignAccount)}`);
        await dep.page.locator(sel("error")).waitFor();
        await check1(dep.page, info);
        await shoot(dep.page, `${tag}-deputy-refused`);
      });
      await dep.context.close();
    }
  }
}

const phases = { empty, manage, sieve, deputy, screens };
await phases[input.phase]();
output({ steps: steps.list, shots, foreign: pages.foreign, pageErrors: pages.pageErrors, consoleErrors: pages.consoleErrors });
await browser.close();
