// admin.mjs drives the web admin (input.admin, the admin listener) in
// phases the Go test runs one after another, checking the server's state
// between them (TestAdminUI):
//   setup:  no page or API answer without login; the server administrator
//           logs in, sees the dashboard, adds a domain and its DNS records
//           with their live check, creates an account, which then logs in
//           to the webmail (input.web);
//   ops:    the delivery log and a message's trace, queue retry and drop,
//           the audit page, an API token shown once and revoked;
//   scope:  a domain administrator logs in with a TOTP code and sees only
//           its domain;
//   screens: every main screen in en and zh-CN at 390x844 and 1280x800,
//           saved under shotDir.
import { launch, readInput, output, sel, Steps, check, login } from "./lib.mjs";
import { Pages, ready, adminLogin as loginAt, textOf } from "./admin-lib.mjs";

const input = await readInput();
const A = input.admin;
const steps = new Steps();
const browser = await launch();
const pages = new Pages(browser);
const shots = [];

const newPage = (origin, opts) => pages.open(origin, opts);
const adminLogin = (page, user, pass, totp) => loginAt(page, A, user, pass, totp);

async function setup() {
  const { page } = await newPage(A);
  await steps.run("anonymous: pages and API need login", async (info) => {
    for (const p of ["/admin/", "/admin/dashboard", "/admin/queue?id=1", "/admin/audit"]) {
      await page.goto(A + p);
      await page.locator(sel("login-form")).waitFor();
      check(await page.locator(sel("nav")).count() === 0, `${p}: navigation shown without login`);
    }
    const statuses = await page.evaluate(async () => {
      const out = {};
      for (const p of ["session", "dashboard", "domains", "domains/shop.test/dns", "accounts/ann@shop.test", "queue", "log?address=a@b.c", "log/trace?key=1", "audit", "tokens", "auth/throttled"]) {
        out[p] = (await fetch("/admin/api/" + p, { credentials: "same-origin" })).status;
      }
      return out;
    });
    info.statuses = statuses;
    for (const [p, st] of Object.entries(statuses)) check(st === 401, `GET /admin/api/${p} without login: ${st}, want 401`);
    const autocomplete = await page.evaluate(() => [...document.querySelectorAll("input")].map((i) => i.name + "=" + i.autocomplete));
    check(autocomplete.includes("username=username") && autocomplete.includes("password=current-password") && autocomplete.includes("totp=one-time-code"),
      "login autocomplete attributes: " + autocomplete.join(", "));
  });
  await steps.run("root: log in, the dashboard", async (info) => {
    await adminLogin(page, input.root, input.rootPass);
    await ready(page, "dashboard");
    check(await page.locator(`${sel("chart")} polyline`).count() === 6, "the chart has not 6 series");
    info.services = await page.locator(`${sel("services")} tbody tr`).count();
    check(info.services >= 5, `only ${info.services} services listed`);
    check(await page.locator(sel("service-admin")).count() === 1, "the admin listener is not among the services");
  }, { required: true });
  await steps.run("domain: add", async () => {
    await page.click(sel("nav-domains"));
    await ready(page, "domains");
    await page.fill(sel("domain-new"), input.domain);
    await page.click(sel("domain-add"));
    await page.waitForURL(/domain=shop\.test/);
    await ready(page, "domains");
    check((await textOf(page, "main")).includes(input.domain), "the domain page does not name the domain");
  }, { required: true });
  await steps.run("domain: DNS records and check", async (info) => {
    const recs = await textOf(page, "dns-records");
    check(/\bMX\b/.test(recs) && recs.includes("v=spf1") && recs.includes("DKIM1"), "the DNS records lack MX, SPF or DKIM: " + recs.slice(0, 300));
    const area = page.locator(sel("dns-check"));
    await page.locator(`${sel("dns-check")} ${sel("dns-check-table")}, ${sel("dns-check-unavailable")}, ${sel("dns-check-error")}`).first().waitFor({ timeout: 15000 });
    if (await page.locator(sel("dns-check-table")).count()) {
      info.check = "table";
      info.mxOK = (await page.locator(sel("check-MX-ok")).count()) > 0;
      info.spfBad = await page.evaluate(() => [...document.querySelectorAll('[data-test="dns-check-table"] tbody tr')]
        .some((tr) => /spf1/.test(tr.innerText) && !tr.querySelector('[data-test="dns-status-ok"]')));
      info.statuses = await page.evaluate(() => [...document.querySelectorAll('[data-test="dns-check-table"] tbody tr')].map((tr) => tr.dataset.test));
    } else if (await page.locator(sel("dns-check-unavailable")).count()) {
      info.check = "unavailable";
    } else {
      info.check = "error";
      info.error = await area.innerText();
    }
  });
  await steps.run("account: create", async () => {
    await page.goto(`${A}/admin/accounts?domain=${input.domain}`);
    await ready(page, "accounts");
    await page.fill(sel("account-new"), input.ann.split("@")[0]);
    await page.fill(sel("account-new-password"), input.annPass);
    await page.click(sel("account-add"));
    await page.locator(sel("account-" + input.ann)).waitFor();
  }, { required: true });
  await steps.run("account: its page", async (info) => {
    await page.click(`${sel("account-" + input.ann)} ${sel("account-link")}`);
    await ready(page, "accounts");
    info.usage = await textOf(page, "account-usage");
    info.lastLogin = (await page.locator(sel("last-logins")).count()) ? "shown" : "unavailable";
  });
  await steps.run("webmail: the new account logs in, makes an app password", async () => {
    const w = await newPage(input.web);
    await login(w.page, input.web, input.ann, input.annPass);
    const st = await w.page.evaluate(async () => {
      const s = await (await fetch("/webmail/session")).json();
      const r = await fetch("/webmail/app-passwords", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": s.csrf }, body: JSON.stringify({ name: "phone" }) });
      return r.status;
    });
    check(st === 200, "POST /webmail/app-passwords: " + st);
    await w.context.close();
  });
  await steps.run("account: its app password listed and revoked", async () => {
    await page.goto(`${A}/admin/accounts?address=${input.ann}`);
    await ready(page, "accounts");
    check((await textOf(page, "app-passwords")).includes("phone"), "the app password is not listed");
    await page.click(`${sel("app-passwords")} ${sel("app-password-revoke")}`);
    await page.locator(sel("app-passwords-empty")).waitFor();
  });
  await contract(page);
}

// contract: the DNS check, the CSV import and last logins, from the
// server's own endpoints.
async function contract(page) {
  const d = input.domain;

  await steps.run("contract: the DNS check, each record's status and fix", async (info) => {
    await page.goto(`${A}/admin/domains?domain=${d}`);
    await ready(page, "domains");
    await page.locator(sel("dns-check-table")).waitFor({ timeout: 15000 });
    check(await page.locator(sel("check-MX-ok")).count() > 0, "no MX row marked OK");
    const rows = await page.evaluate(() => [...document.querySelectorAll('[data-test="dns-check-table"] tbody tr')]
      .map((tr) => ({ test: tr.dataset.test, text: tr.innerText, fix: tr.lastElementChild.innerText.trim() })));
    info.rows = rows.map((r) => r.test);
    const spf = rows.find((r) => /spf1/.test(r.text) && !/-ok$/.test(r.test));
    check(spf, "no SPF row marked wrong or missing: " + info.rows.join(", "));
    check(spf.fix !== "", "the SPF row shows no fix");
    check(rows.every((r) => /-ok$/.test(r.test) || r.fix !== ""), "a record not OK has no fix");
    await page.locator(sel("dns-check-table")).scrollIntoViewIfNeeded();
    const file = `${input.shotDir}/admin-en-desktop-domain-check.png`;
    await page.screenshot({ path: file });
    shots.push(file);
  });
  await steps.run("contract: CSV import, dry run with errors by line, then import", async (info) => {
    await page.goto(`${A}/admin/accounts?domain=${d}`);
    await ready(page, "accounts");
    await page.click(`${sel("screen-accounts")} details summary`);
    await page.fill(sel("import-csv"), `address,password,quota,name\nbea@${d},bea import passphrase 1,1G,Bea\nnot an address,x,0\ncid@${d},cid import passphrase 2,0,Cid\n`);
    await page.click(sel("import-dry"));
    await page.locator(sel("import-errors")).waitFor();
    const text = await textOf(page, "import-errors");
    check(/\b3\b/.test(text) && text.includes("not an address"), "the errors do not name line 3: " + text);
    await page.locator(sel("import-errors")).scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${input.shotDir}/admin-en-desktop-import-errors.png` });
    shots.push(`${input.shotDir}/admin-en-desktop-import-errors.png`);
    await page.fill(sel("import-csv"), `address,password,quota,name\nbea@${d},bea import passphrase 1,1G,Bea\ncid@${d},cid import passphrase 2,0,Cid\n`);
    await page.click(sel("import-dry"));
    await page.locator(`${sel("import-summary")}:has-text("2")`).waitFor();
    check(await page.locator(sel("import-errors")).count() === 0, "errors shown for a good file");
    await page.click(sel("import-run"));
    await page.locator(sel("toast")).first().waitFor();
  });
  await steps.run("contract: last login per protocol", async (info) => {
    await page.goto(`${A}/admin/accounts?address=${input.ann}`);
    await ready(page, "accounts");
    await page.locator(sel("last-logins")).waitFor();
    info.shown = await page.evaluate(() => [...document.querySelectorAll('[data-test^="last-login-"] time')].map((t) => t.closest("dd").dataset.test));
    check(info.shown.length > 0, "no protocol shows a last login after the webmail login");
  });
}

async function ops() {
  const { page } = await newPage(A);
  await steps.run("root: log in", () => adminLogin(page, input.root, input.rootPass), { required: true });
  await steps.run("log: search by address", async () => {
    await page.goto(A + "/admin/log");
    await ready(page, "log");
    await page.fill(sel("log-query"), input.ann);
    await page.click(sel("log-search"));
    await page.waitForURL(/address=/);
    await page.locator(sel("log-delivered")).first().waitFor();
  });
  await steps.run("log: the trace of the delivery", async (info) => {
    await page.click(`${sel("log-delivered")} ${sel("log-trace")}`);
    await page.locator(sel("trace-steps")).waitFor();
    await ready(page, "log");
    info.steps = await page.evaluate(() => [...document.querySelectorAll('[data-test="trace-steps"] > li')].map((li) => li.dataset.test));
    check(info.steps.includes("trace-step-accepted") && info.steps.includes("trace-step-delivered"), "trace steps: " + info.steps.join(", "));
    check(await page.locator(sel("trace-outcome-delivered")).count() === 1, "the outcome is not delivered");
    check((await textOf(page, "trace-steps")).includes("+"), "the steps show no time since the first");
  });
  await steps.run("log: search by Message-ID", async () => {
    await page.goto(A + "/admin/log");
    await ready(page, "log");
    await page.fill(sel("log-query"), "<" + input.messageID + ">");
    await page.click(sel("log-search"));
    await page.waitForURL(/message_id=/);
    await page.locator(sel("log-accepted")).first().waitFor();
  });
  await steps.run("queue: list and filter", async () => {
    await page.goto(A + "/admin/queue");
    await ready(page, "queue");
    await page.locator(sel("queue-" + input.retryID)).waitFor();
    await page.locator(sel("queue-" + input.dropID)).waitFor();
    await page.selectOption(sel("queue-state"), "held");
    await page.click(sel("queue-filter"));
    await page.waitForURL(/state=held/);
    await ready(page, "queue");
    check(await page.locator(sel("queue-" + input.retryID)).count() === 0, "the held filter still lists a deferred entry");
  });
  await steps.run("queue: an entry's header and attempts, retry", async () => {
    await page.goto(`${A}/admin/queue?id=${input.retryID}`);
    await ready(page, "queue");
    check((await textOf(page, "queue-header")).includes("Message-ID"), "no header shown");
    check((await textOf(page, "queue-recipients")).includes("bob@unreachable.test"), "no recipient shown");
    await page.click(sel("queue-retry"));
    await page.locator(sel("toast")).first().waitFor();
  });
  await steps.run("queue: hold and release", async () => {
    await page.click(sel("queue-hold"));
    await page.locator(sel("queue-release")).waitFor();
    await page.click(sel("queue-release"));
    await page.locator(sel("queue-hold")).waitFor();
  });
  await steps.run("queue: drop", async () => {
    await page.goto(`${A}/admin/queue?id=${input.dropID}`);
    await ready(page, "queue");
    await page.click(sel("queue-drop"));
    await page.click(sel("confirm-ok"));
    await page.waitForURL((u) => !u.search.includes("id="));
    await ready(page, "queue");
    check(await page.locator(sel("queue-" + input.dropID)).count() === 0, "the dropped entry is still listed");
  });
  await steps.run("audit: the actions are listed", async () => {
    await page.goto(A + "/admin/audit");
    await ready(page, "audit");
    for (const a of ["queue.retry", "queue.drop", "queue.hold", "account.add", "domain.add"]) {
      check(await page.locator(sel("audit-" + a)).count() > 0, `no ${a} row in the audit page`);
    }
  });
  await steps.run("account: quota, alias, a refused Sieve script", async (info) => {
    await page.goto(`${A}/admin/accounts?address=${input.ann}`);
    await ready(page, "accounts");
    await page.fill(sel("quota-size"), "10M");
    await page.click(sel("quota-save"));
    await page.locator(`${sel("account-usage")}:has-text("10 MB")`).waitFor();
    await page.click(sel("sieve-new"));
    await page.fill(sel("sieve-name"), "rules");
    await page.fill(sel("sieve-script"), 'require ["fileinto"];\nif header :contains "subject" "x" {\n  fileinto "Junk"\n}\n');
    await page.click(sel("sieve-save"));
    await page.locator(`${sel("sieve-error")}:visible`).waitFor();
    info.sieveError = await textOf(page, "sieve-error");
    check(/Line \d+, column \d+/.test(info.sieveError), "the refusal does not say where: " + info.sieveError);
    await page.fill(sel("sieve-script"), 'require ["fileinto"];\nif header :contains "subject" "x" {\n  fileinto "Junk";\n}\n');
    await page.click(sel("sieve-save"));
    await page.locator(`${sel("sieve-scripts")} >> text=rules`).waitFor();
    await page.goto(`${A}/admin/aliases?domain=${input.domain}`);
    await ready(page, "aliases");
    await page.fill(sel("alias-new"), "sales");
    await page.fill(sel("alias-destinations"), input.ann + ", someone@example.net");
    await page.click(sel("alias-add"));
    await page.locator(sel("alias-sales@" + input.domain)).waitFor();
  });
  await steps.run("account: a generated password once; delete asks for the address", async (info) => {
    const old = "old@" + input.domain;
    await page.goto(`${A}/admin/accounts?domain=${input.domain}`);
    await ready(page, "accounts");
    await page.fill(sel("account-new"), "old");
    await page.click(sel("account-add"));
    info.passwordLength = (await page.locator(sel("secret")).inputValue()).length;
    check(info.passwordLength >= 12, "generated password too short: " + info.passwordLength);
    await page.click(sel("secret-done"));
    await page.locator(sel("account-" + old)).waitFor();
    await page.click(`${sel("account-" + old)} ${sel("account-link")}`);
    await ready(page, "accounts");
    await page.click(sel("account-disable"));
    await page.locator(`${sel("account-state")}:has-text("disabled")`).waitFor();
    await page.click(sel("account-enable"));
    await page.locator(`${sel("account-state")}:has-text("enabled")`).waitFor();
    await page.click(sel("account-reset"));
    check((await page.locator(sel("secret")).inputValue()).length >= 12, "no new password shown");
    await page.click(sel("secret-done"));
    await page.click(sel("account-delete"));
    await page.fill(sel("confirm-name"), "someone-else@" + input.domain);
    await page.click(sel("confirm-ok"));
    await page.locator(`${sel("account-delete-error")}:visible`).waitFor();
    info.refusal = await textOf(page, "account-delete-error");
    check(info.refusal.includes("not deleted"), "the server's refusal is not shown: " + info.refusal);
    await page.click(sel("account-delete"));
    await page.fill(sel("confirm-name"), old);
    await page.click(sel("confirm-ok"));
    await page.waitForURL(/domain=/);
    await ready(page, "accounts");
    check(await page.locator(sel("account-" + old)).count() === 0, "the deleted account is still listed");
  });
  await steps.run("domain: catch-all and DKIM rotation", async () => {
    await page.goto(`${A}/admin/domains?domain=${input.domain}`);
    await ready(page, "domains");
    check(await page.locator(`${sel("dkim-keys")} tbody tr`).count() === 2, "not 2 DKIM keys at first");
    await page.fill(sel("catchall-input"), input.ann);
    await page.click(sel("catchall-save"));
    await page.locator(sel("toast")).first().waitFor();
    await page.click(sel("dkim-rotate"));
    await page.locator(`${sel("dkim-keys")} tbody tr >> nth=3`).waitFor();
    check(await page.locator(`${sel("dkim-keys")} tbody tr:has-text("retired")`).count() === 2, "the old keys are not shown retired");
  });
  await steps.run("logins: a blocked account is unblocked", async (info) => {
    await page.goto(A + "/admin/logins");
    await ready(page, "logins");
    info.rows = await page.locator(`${sel("throttled")} tbody tr`).allInnerTexts();
    check(info.rows.some((r) => r.includes(input.intruder)), "the blocked name is not listed: " + info.rows.join(" | "));
    await page.click(`${sel("throttled")} tbody tr:has-text("${input.intruder}") ${sel("unblock")}`);
    await page.locator(sel("throttled-empty")).waitFor();
  });
  await steps.run("language: the switch is kept", async () => {
    await page.selectOption(sel("lang-switch"), "zh-CN");
    await page.locator(`${sel("nav-queue")}:has-text("队列")`).waitFor();
    await page.reload();
    await page.locator(`${sel("nav-queue")}:has-text("队列")`).waitFor();
    await page.selectOption(sel("lang-switch"), "en");
    await page.locator(`${sel("nav-queue")}:has-text("Queue")`).waitFor();
  });
  await steps.run("tokens: made once, revoked", async (info) => {
    await page.goto(A + "/admin/tokens");
    await ready(page, "tokens");
    await page.fill(sel("token-name"), "backup");
    await page.click(sel("token-create"));
    const token = await page.locator(sel("secret")).inputValue();
    info.tokenLength = token.length;
    check(token.length >= 20, "the token shown is too short: " + token.length);
    await page.click(sel("secret-done"));
    await page.locator(sel("token-backup")).waitFor();
    check(!(await textOf(page, "main")).includes(token), "the token is still on the page");
    const st = await page.evaluate(async (tok) => (await fetch("/admin/api/session", { headers: { Authorization: "Bearer " + tok } })).status, token);
    check(st === 200, "the new token does not authenticate: " + st);
    await page.click(`${sel("token-backup")} ${sel("token-revoke")}`);
    await page.locator(sel("tokens-empty")).waitFor();
  });
}

async function scope() {
  const { page } = await newPage(A);
  await steps.run("deputy: log in with a TOTP code", async () => {
    await page.goto(A + "/admin/");
    await page.fill(sel("login-username"), input.deputy);
    await page.fill(sel("login-password"), input.deputyPass);
    await page.click(sel("login-submit"));
    await page.locator(`${sel("login-error")}:visible`).waitFor();
    await page.click(sel("login-use-totp"));
    await page.fill(sel("login-totp"), input.totp);
    await page.click(sel("login-submit"));
    await ready(page, "domains");
  }, { required: true });
  await steps.run("deputy: only its domain", async (info) => {
    check(await page.locator(sel("domain-" + input.own)).count() === 1, "its own domain is not listed");
    check(await page.locator(sel("domain-" + input.domain)).count() === 0, "another domain is listed");
    info.nav = await page.evaluate(() => [...document.querySelectorAll('[data-test="nav"] a')].map((a) => a.dataset.page));
    for (const p of ["dashboard", "queue", "log", "audit", "logins"]) check(!info.nav.includes(p), `the navigation offers ${p}`);
  });
  await steps.run("deputy: another domain is refused", async (info) => {
    await page.goto(`${A}/admin/domains?domain=${input.domain}`);
    await page.locator(sel("error")).waitFor();
    info.message = await textOf(page, "error");
    info.apiStatus = await page.evaluate(async (d) => (await fetch("/admin/api/domains/" + d)).status, input.domain);
    check(!(await textOf(page, "main")).includes("DKIM"), "the other domain's details are shown");
  });
  await steps.run("deputy: sign out ends the session", async () => {
    await page.click(sel("logout"));
    await page.locator(sel("login-form")).waitFor();
    const st = await page.evaluate(async () => (await fetch("/admin/api/session")).status);
    check(st === 401, "GET /admin/api/session after sign-out: " + st);
  });
}

const SCREENS = [
  ["dashboard", "/admin/dashboard"],
  ["domains", "/admin/domains"],
  ["domains", "/admin/domains?domain=shop.test", "domain"],
  ["accounts", "/admin/accounts?domain=shop.test"],
  ["accounts", "/admin/accounts?address=ann@shop.test", "account"],
  ["aliases", "/admin/aliases?domain=shop.test"],
  ["sieve", "/admin/sieve"],
  ["queue", "/admin/queue"],
  ["queue", "/admin/queue?id=RETRY", "queue-entry"],
  ["log", "/admin/log?address=ann@shop.test"],
  ["log", "/admin/log?trace=MSGID", "trace"],
  ["audit", "/admin/audit"],
  ["tokens", "/admin/tokens"],
  ["logins", "/admin/logins"],
];

async function screens() {
  const sizes = [
    { name: "phone", viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
    { name: "desktop", viewport: { width: 1280, height: 800 } },
  ];
  for (const lang of ["en", "zh-CN"]) {
    for (const size of sizes) {
      const { context, page } = await newPage(A, { viewport: size.viewport, isMobile: !!size.isMobile, hasTouch: !!size.hasTouch, locale: lang === "en" ? "en-US" : "zh-CN", deviceScaleFactor: 1 });
      const shoot = async (name, info) => {
        await page.waitForTimeout(200);
        const file = `${input.shotDir}/admin-${lang}-${size.name}-${name}.png`;
        await page.screenshot({ path: file });
        shots.push(file);
        info.lang = await page.evaluate(() => document.documentElement.lang);
        check(info.lang === lang, `<html lang="${info.lang}">, want ${lang}`);
        if (lang === "zh-CN") check(/[\u4e00-\u9fff]/.test(await page.evaluate(() => document.body.innerText)), "no Chinese text on the screen");
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        check(width <= size.viewport.width + 1, `the page is ${width}px wide at ${size.viewport.width}px`);
      };
      const ok = await steps.run(`${lang} ${size.name}: login`, async (info) => {
        await page.goto(A + "/admin/");
        await page.locator(sel("login-form")).waitFor();
        await shoot("login", info);
        await page.fill(sel("login-username"), input.root);
        await page.fill(sel("login-password"), input.rootPass);
        await page.click(sel("login-submit"));
        await ready(page, "dashboard");
        return true;
      });
      if (!ok) {
        await context.close();
        continue;
      }
      for (const [screen, path, name] of SCREENS) {
        await steps.run(`${lang} ${size.name}: ${name || screen}`, async (info) => {
          await page.goto(A + path.replace("RETRY", input.retryID).replace("MSGID", encodeURIComponent(input.messageID)));
          await ready(page, screen);
          await page.locator(`${sel("dns-check")} .loading`).waitFor({ state: "detached" }).catch(() => {});
          if (await page.locator(sel("error")).count()) throw new Error("the screen shows an error: " + (await textOf(page, "error")));
          if (screen === "dashboard") {
            // Three messages have come in since the first look (setup).
            info.bodies = await page.locator(`${sel("tile-disk")} .adm-tile-value`).innerText();
            check(!/^0\s*B$/.test(info.bodies.trim()), "bodies on disk after mail was delivered: " + info.bodies);
          }
          await shoot(name || screen, info);
          // The lower part of a long page: the DNS check, the account's
          // scripts.
          const lower = { domain: "dns-check", account: "sieve-new" }[name];
          if (lower) {
            await page.locator(sel(lower)).scrollIntoViewIfNeeded();
            await shoot(name + "-lower", info);
          }
        });
      }
      if (size.name === "phone") {
        await steps.run(`${lang} phone: navigation drawer`, async (info) => {
          await page.click(sel("nav-toggle"));
          await page.waitForTimeout(300);
          await shoot("nav", info);
          await page.click(sel("nav-domains"));
          await ready(page, "domains");
        });
      }
      await context.close();
    }
  }
}

// dark photographs a few screens with the system in dark mode.
async function dark() {
  for (const size of [{ name: "phone", viewport: { width: 390, height: 844 }, isMobile: true }, { name: "desktop", viewport: { width: 1280, height: 800 } }]) {
    const { context, page } = await newPage(A, { viewport: size.viewport, isMobile: !!size.isMobile, colorScheme: "dark", deviceScaleFactor: 1 });
    await steps.run(`dark ${size.name}: login and screens`, async (info) => {
      await adminLogin(page, input.root, input.rootPass);
      await ready(page, "dashboard");
      info.background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      check(info.background !== "rgb(255, 255, 255)", "the page is not dark: " + info.background);
      for (const [screen, path, name] of [["dashboard", "/admin/dashboard"], ["domains", "/admin/domains?domain=shop.test", "domain"], ["queue", `/admin/queue?id=${input.retryID}`, "queue-entry"]]) {
        await page.goto(A + path);
        await ready(page, screen);
        await page.waitForTimeout(200);
        const file = `${input.shotDir}/admin-dark-${size.name}-${name || screen}.png`;
        await page.screenshot({ path: file });
        shots.push(file);
      }
    });
    await context.close();
  }
}

const phases = { setup, ops, scope, screens: async () => { await screens(); await dark(); } };
await phases[input.phase]();
output({ steps: steps.list, shots, foreign: pages.foreign, pageErrors: pages.pageErrors, consoleErrors: pages.consoleErrors });
await browser.close();
