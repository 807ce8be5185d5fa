// flows.mjs walks through the webmail as two users would, in real
// Chromium: log in (from a deep link), read a plain and an HTML message,
// compose with an attachment and send to a local user, who sees it arrive
// by push in another browser session, reply, move, delete, search, change
// a filter, switch language, log out. It prints {steps, ...} for
// e2e/webmail_ui_test.go; a step that fails says what it waited for.
import { launch, readInput, output, sel, Steps, check, login, watchRequests } from "./lib.mjs";

const input = await readInput();
const { base, alice, bob, pass } = input;
const steps = new Steps();
const out = { steps: steps.list };

const browser = await launch();
const newSession = async (locale = "en-US") => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale });
  const page = await context.newPage();
  page.setDefaultTimeout(8000);
  const foreign = watchRequests(context, base);
  const errors = [];
  const consoleErrors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && consoleErrors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`));
  return { context, page, foreign, errors, consoleErrors };
};
const A = await newSession();
const B = await newSession();
const a = A.page;
const b = B.page;
const row = (page, id) => page.locator(`${sel("message-row")}[data-id="${id}"]`);
const rowWith = (page, text) => page.locator(sel("message-row"), { hasText: text });

async function text(page, name) {
  return (await page.locator(sel(name)).first().innerText()).trim();
}

await steps.run(
  "login from a deep link",
  async (info) => {
    await a.goto(`${base}/m/${input.plain.id}`);
    await a.locator(sel("login-form")).waitFor();
    info.url = a.url();
    const ac = await a.evaluate((s) => [document.querySelector(s[0])?.getAttribute("autocomplete"), document.querySelector(s[1])?.getAttribute("autocomplete"), document.querySelector(s[1])?.getAttribute("type")], [sel("login-username"), sel("login-password")]);
    check(ac[0] === "username" && ac[1] === "current-password", `login fields autocomplete ${JSON.stringify(ac.slice(0, 2))}, want ["username","current-password"]`);
    check(ac[2] === "password", `password field type ${ac[2]}`);
    await a.fill(sel("login-username"), alice);
    await a.fill(sel("login-password"), "wrong " + pass);
    await a.click(sel("login-submit"));
    await a.locator(sel("login-error")).waitFor({ state: "visible" });
    await a.fill(sel("login-username"), alice);
    await a.fill(sel("login-password"), pass);
    await a.click(sel("login-submit"));
    await a.locator(sel("mailbox-tree")).waitFor();
    // back where the link pointed
    await a.locator(sel("reader-subject")).waitFor();
    const subject = await text(a, "reader-subject");
    check(subject.includes(input.plain.subject), `after login the reader shows ${JSON.stringify(subject)}, want the deep-linked ${JSON.stringify(input.plain.subject)}`);
    check(new URL(a.url()).pathname === `/m/${input.plain.id}`, `after login the URL is ${a.url()}, want /m/${input.plain.id}`);
    const cookie = await a.evaluate(() => document.cookie);
    check(!cookie.includes("postern_session"), `document.cookie shows the session: ${cookie}`);
  },
  { required: true, timeout: 40000 },
);

await steps.run("bob logs in (second browser session)", async () => {
  await login(b, base, bob, pass, `/f/${input.bobInboxID}`);
  await b.locator(sel("message-list")).waitFor();
  await b.evaluate(() => (window.__noReload = "still here"));
});

await steps.run("inbox: tree, counts, rows", async (info) => {
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.locator(sel("message-list")).waitFor();
  const roles = await a.$$eval(sel("mailbox"), (els) => els.map((e) => e.getAttribute("data-role") || ""));
  info.roles = roles;
  for (const r of ["inbox", "drafts", "sent", "trash"]) check(roles.includes(r), `mailbox tree has roles ${JSON.stringify(roles)}, no ${r}`);
  const inbox = a.locator(`${sel("mailbox")}[data-role="inbox"]`);
  const badge = (await inbox.locator(sel("unread-count")).innerText().catch(() => "")).trim();
  info.badge = badge;
  check(/\d/.test(badge), `the inbox has no unread-count (got ${JSON.stringify(badge)}) though it holds unread mail`);
  await row(a, input.html.id).waitFor();
  check((await row(a, input.html.id).getAttribute("data-unread")) === "true", "the unread HTML message's row lacks data-unread=true");
  info.rows = await a.locator(sel("message-row")).count();
  check(info.rows >= input.inboxCount, `${info.rows} rows, want ${input.inboxCount}`);
  check(/^\/f\//.test(new URL(a.url()).pathname), `URL ${a.url()}`);
});

await steps.run("read the plain message", async () => {
  await a.goto(`${base}/f/${input.inboxID}`);
  await row(a, input.plain.id).click();
  await a.waitForURL((u) => u.pathname === `/m/${input.plain.id}`);
  await a.locator(sel("reader-text")).waitFor();
  const body = await text(a, "reader-text");
  check(body.includes(input.plain.text), `reader-text ${JSON.stringify(body.slice(0, 200))} lacks ${JSON.stringify(input.plain.text)}`);
  const href = await a.locator(`${sel("reader-text")} a[href="${input.plain.link}"]`).count();
  check(href > 0, `the link ${input.plain.link} in the plain body is not clickable`);
});

await steps.run("read the HTML message", async () => {
  await a.goBack(); // back to the list, then the HTML one
  await row(a, input.html.id).click();
  await a.waitForURL((u) => u.pathname === `/m/${input.html.id}`);
  await a.locator(sel("reader-html")).waitFor();
  const frame = await (await a.locator(sel("reader-html")).elementHandle()).contentFrame();
  check(frame, "reader-html has no content frame");
  await frame.waitForLoadState("load");
  const body = await frame.locator("body").innerText();
  check(body.includes(input.html.text), `the HTML frame shows ${JSON.stringify(body.slice(0, 200))}, want ${JSON.stringify(input.html.text)}`);
  check(await frame.locator("b").count() > 0, "the HTML message lost its <b>");
  await a.goto(`${base}/f/${input.inboxID}`);
  await row(a, input.html.id).waitFor();
  const unread = await row(a, input.html.id).getAttribute("data-unread");
  check(unread !== "true", "the HTML message is still unread after reading");
});

await steps.run(
  "compose with an attachment and send to bob",
  async (info) => {
    await a.click(sel("compose-new"));
    await a.locator(sel("compose-form")).waitFor();
    check(new URL(a.url()).pathname === "/compose", `compose URL ${a.url()}`);
    await a.fill(sel("compose-to"), bob);
    await a.keyboard.press("Enter").catch(() => {});
    await a.fill(sel("compose-subject"), input.sendSubject);
    await a.locator(sel("compose-body")).click();
    await a.keyboard.type(input.sendBody);
    await a.setInputFiles(sel("compose-attach"), input.attachPath);
    await a.locator(sel("compose-attachment")).first().waitFor();
    // upload done: the chip stays and the progress bar goes
    await a.locator(sel("upload-progress")).first().waitFor({ state: "hidden", timeout: 15000 }).catch(() => {});
    info.chip = await text(a, "compose-attachment");
    await a.click(sel("compose-send"));
    await a.locator(sel("undo-send")).waitFor({ state: "visible" }).then(() => (info.undo = true), () => (info.undo = false));
    check(info.undo, "no undo-send after pressing send");
  },
  { timeout: 30000 },
);

await steps.run(
  "bob receives it by push, no reload",
  async (info) => {
    const start = Date.now();
    await rowWith(b, input.sendSubject).waitFor({ timeout: 30000 });
    info.seenAfterMs = Date.now() - start;
    check((await b.evaluate(() => window.__noReload)) === "still here", "bob's page reloaded to show the new message");
    await rowWith(b, input.sendSubject).click();
    await b.locator(sel("reader-subject")).waitFor();
    check((await text(b, "reader-subject")).includes(input.sendSubject), "bob's reader shows another subject");
    await b.locator(sel("attachment")).first().waitFor();
    const att = await b.locator(sel("attachment")).first().innerText();
    check(att.includes(input.attachName), `attachment shown as ${JSON.stringify(att)}, want ${input.attachName}`);
    info.download = await b.locator(sel("attachment-download")).first().getAttribute("href");
    check(/\/jmap\/download\//.test(info.download || ""), `attachment-download href ${info.download}`);
    // the download itself, with the browser's cookie: an attachment, never rendered
    const resp = await b.request.get(new URL(info.download, base).href);
    const cd = resp.headers()["content-disposition"] || "";
    check(resp.status() === 200, `downloading the attachment: ${resp.status()}`);
    check(/^attachment/i.test(cd), `attachment download Content-Disposition ${JSON.stringify(cd)}`);
    check(resp.headers()["x-content-type-options"] === "nosniff", "attachment download without nosniff");
    const title = await b.title();
    info.title = title;
  },
  { timeout: 45000 },
);

await steps.run(
  "bob replies",
  async (info) => {
    await b.click(sel("action-reply"));
    await b.locator(sel("compose-form")).waitFor();
    // the reply is filled in once the original is fetched
    await b.waitForFunction((s) => document.querySelector(s)?.value, sel("compose-subject"), { timeout: 8000 }).catch(() => {});
    const subject = await b.inputValue(sel("compose-subject"));
    check(/^re:/i.test(subject) && subject.includes(input.sendSubject), `reply subject ${JSON.stringify(subject)}`);
    const to = await b.locator(sel("compose-to")).evaluate((el) => (el.value ?? "") + " " + (el.closest("label, div, fieldset") || el).innerText);
    check(to.includes(alice), `reply to field ${JSON.stringify(to)} lacks ${alice}`);
    await b.locator(sel("compose-body")).click();
    await b.keyboard.press("Control+Home");
    await b.keyboard.type(input.replyBody + "\n");
    await b.click(sel("compose-send"));
    await rowWith(a, "Re:").filter({ hasText: input.sendSubject }).waitFor({ timeout: 30000 }).catch(async () => {
      await a.goto(`${base}/f/${input.inboxID}`);
      await rowWith(a, input.sendSubject).waitFor({ timeout: 5000 });
      throw new Error("alice saw the reply only after a reload (no push)");
    });
    info.ok = true;
  },
  { timeout: 45000 },
);

await steps.run("move a message to Projects", async () => {
  await a.goto(`${base}/m/${input.move.id}`);
  await a.locator(sel("reader-subject")).waitFor();
  await a.click(sel("action-move"));
  await a.click(`${sel("move-target")}[data-id="${input.projectsID}"]`);
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.locator(sel("message-list")).waitFor();
  await a.waitForTimeout(300);
  check((await row(a, input.move.id).count()) === 0, "the moved message is still in the inbox list");
  await a.click(`${sel("mailbox")}[data-id="${input.projectsID}"]`);
  await a.waitForURL((u) => u.pathname === `/f/${input.projectsID}`);
  await row(a, input.move.id).waitFor();
});

await steps.run("delete a message to Trash", async () => {
  await a.goto(`${base}/m/${input.del.id}`);
  await a.locator(sel("reader-subject")).waitFor();
  await a.click(sel("action-delete"));
  await a.waitForTimeout(300);
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.locator(sel("message-list")).waitFor();
  check((await row(a, input.del.id).count()) === 0, "the deleted message is still in the inbox list");
  await a.goto(`${base}/f/${input.trashID}`);
  await row(a, input.del.id).waitFor();
});

await steps.run("search", async (info) => {
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.fill(sel("search-input"), input.search.query);
  await a.press(sel("search-input"), "Enter");
  await a.waitForURL((u) => u.pathname === "/search");
  await row(a, input.search.id).waitFor();
  info.rows = await a.locator(sel("message-row")).count();
  check(info.rows === 1, `search ${JSON.stringify(input.search.query)} shows ${info.rows} rows, want 1`);
  const snip = await a.locator(sel("snippet")).count();
  check(snip > 0, "no snippet under the search result");
  const marked = await a.locator(`${sel("snippet")} mark`).count();
  check(marked > 0, "the snippet highlights nothing (no <mark>)");
});

await steps.run("change a filter", async (info) => {
  await a.goto(`${base}/settings`);
  await a.locator(sel("settings-nav")).waitFor();
  info.pages = await a.$$eval(sel("settings-link"), (els) => els.map((e) => e.getAttribute("data-page")));
  const page = info.pages.find((p) => /filter|sieve|rule/i.test(p || ""));
  check(page, `no filters page among the settings links ${JSON.stringify(info.pages)}`);
  await a.click(`${sel("settings-link")}[data-page="${page}"]`);
  await a.locator(sel("filter-rules")).waitFor();
  await a.click(sel("filter-add"));
  // the new rule: the last one; its condition value and its mailbox
  const rules = a.locator(sel("filter-rules"));
  const inputs = rules.locator('input[type="text"], input:not([type]), input[type="search"]');
  const n = await inputs.count();
  check(n > 0, "the new rule has no text field for the condition");
  // name (if any) and value: fill every empty text field of the new rule
  let filled = 0;
  for (let i = 0; i < n; i++) {
    const el = inputs.nth(i);
    if ((await el.inputValue()) === "" && (await el.isVisible())) {
      await el.fill(input.filter.word);
      filled++;
    }
  }
  info.filled = filled;
  const selects = rules.locator("select");
  let chose = false;
  for (let i = (await selects.count()) - 1; i >= 0; i--) {
    const opts = await selects.nth(i).locator("option").evaluateAll((os) => os.map((o) => [o.value, o.textContent.trim()]));
    if (opts.some(([v]) => v === input.projectsID)) {
      await selects.nth(i).selectOption(input.projectsID);
      chose = true;
      break;
    }
    const byName = opts.find(([, t]) => t === "Projects");
    if (byName) {
      await selects.nth(i).selectOption(byName[0]);
      chose = true;
      break;
    }
  }
  check(chose, "no mailbox select offers Projects in the new rule");
  // a condition on the subject, where the rule lets one choose
  for (let i = 0; i < (await selects.count()); i++) {
    const vals = await selects.nth(i).locator("option").evaluateAll((os) => os.map((o) => o.value));
    if (vals.includes("subject") && vals.includes("from")) {
      await selects.nth(i).selectOption("subject");
      break;
    }
  }
  await a.click(sel("filter-save"));
  await a.locator(sel("toast")).first().waitFor({ state: "visible", timeout: 8000 });
  info.toast = await text(a, "toast");
  check((await a.locator(sel("sieve-error")).count()) === 0 || !(await a.locator(sel("sieve-error")).first().isVisible()), "the server rejected the filter: " + (await a.locator(sel("sieve-error")).first().innerText().catch(() => "")));
});

await steps.run("switch language to Chinese and back", async (info) => {
  await a.goto(`${base}/settings`);
  await a.locator(sel("lang-switch")).waitFor();
  const enNav = await text(a, "settings-nav");
  await a.selectOption(sel("lang-switch"), "zh-CN");
  await a.waitForFunction(() => document.documentElement.lang === "zh-CN", null, { timeout: 5000 });
  const zhNav = await text(a, "settings-nav");
  info.zh = zhNav.slice(0, 80);
  check(zhNav !== enNav, "the settings navigation reads the same after switching to zh-CN");
  check(/[\u4e00-\u9fff]/.test(zhNav), `no Chinese in the settings navigation: ${JSON.stringify(zhNav.slice(0, 80))}`);
  await a.reload();
  await a.locator(sel("settings-nav")).waitFor();
  check((await a.evaluate(() => document.documentElement.lang)) === "zh-CN", "the language choice does not survive a reload");
  await a.selectOption(sel("lang-switch"), "en");
  await a.waitForFunction(() => document.documentElement.lang === "en", null, { timeout: 5000 });
});

await steps.run("a new browser in Chinese gets Chinese", async (info) => {
  const C = await newSession("zh-CN");
  try {
    await login(C.page, base, input.carol, pass);
    const lang = await C.page.evaluate(() => document.documentElement.lang);
    info.lang = lang;
    check(lang === "zh-CN", `<html lang> ${lang} for a zh-CN browser`);
  } finally {
    await C.context.close();
  }
});

await steps.run("log out", async (info) => {
  const cookies = await A.context.cookies(base);
  const session = cookies.find((c) => c.name === "postern_session");
  check(session, `no postern_session cookie in the browser: ${JSON.stringify(cookies.map((c) => c.name))}`);
  check(session.httpOnly && session.secure && session.sameSite === "Strict", `cookie flags ${JSON.stringify(session)}`);
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.click(sel("logout"));
  await a.locator(sel("login-form")).waitFor();
  // the old cookie, replayed outside the browser, is dead on the server
  const r = await fetch(`${base}/webmail/session`, { headers: { Cookie: `postern_session=${session.value}` } });
  info.oldCookieStatus = r.status;
  check(r.status === 401, `GET /webmail/session with the logged-out cookie: ${r.status}, want 401`);
  const j = await fetch(`${base}/jmap/session`, { headers: { Cookie: `postern_session=${session.value}` } });
  check(j.status === 401, `GET /jmap/session with the logged-out cookie: ${j.status}, want 401`);
  await a.goto(`${base}/f/${input.inboxID}`);
  await a.locator(sel("login-form")).waitFor();
});

out.foreign = [...A.foreign, ...B.foreign];
out.pageErrors = [...A.errors, ...B.errors];
out.consoleErrors = [...A.consoleErrors, ...B.consoleErrors].slice(0, 50);
output(out);
await browser.close();
