// Shared helpers of the webmail browser scripts: launching Debian's
// Chromium through playwright-core, reading the Go test's input, running
// named steps with time limits, and watching every request a page makes.
import { chromium } from "playwright-core";

export const sel = (name) => `[data-test="${name}"]`;

// readInput returns the JSON the Go test wrote on stdin.
export async function readInput() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

// launch starts headless Chromium. With beacon ("127.0.0.1:port"), every
// host name but 127.0.0.1 resolves to the beacon, so a request for any
// remote URL lands there and is logged. Chromium's own background traffic
// (updates, safe browsing, translate) is switched off so that the beacon
// sees only what the pages ask for.
export async function launch({ beacon } = {}) {
  const args = [
    "--no-sandbox",
    "--disable-component-update",
    "--disable-background-networking",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
  ];
  if (beacon) args.push(`--host-resolver-rules=MAP * ${beacon}, EXCLUDE 127.0.0.1`);
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args,
    timeout: 30000,
  });
}

// Steps runs named steps one after another, each bounded in time; a
// failed step is recorded with its error and the run goes on, unless the
// step is marked required, when every later step is recorded as not run.
export class Steps {
  constructor() {
    this.list = [];
    this.blockedBy = "";
  }

  async run(name, fn, { timeout = 20000, required = false } = {}) {
    if (this.blockedBy) {
      this.list.push({ name, ok: false, error: `not run: step "${this.blockedBy}" failed`, ms: 0 });
      return undefined;
    }
    const start = Date.now();
    const info = {};
    let timer;
    try {
      const value = await Promise.race([
        fn(info),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`step timed out after ${timeout} ms`)), timeout);
        }),
      ]);
      this.list.push({ name, ok: true, ms: Date.now() - start, info });
      return value;
    } catch (e) {
      this.list.push({ name, ok: false, error: firstLines(e), ms: Date.now() - start, info });
      if (required) this.blockedBy = name;
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

// firstLines keeps an error short: playwright's call logs are long.
export function firstLines(e, n = 4) {
  const text = String((e && e.message) || e);
  return text.split("\n").filter((l) => l.trim() !== "").slice(0, n).join(" | ");
}

// check throws when cond is false, with what was expected and found.
export function check(cond, what) {
  if (!cond) throw new Error(what);
}

// watchRequests records every request of the context that is not for
// origin (the webmail): the webmail must load nothing from elsewhere.
export function watchRequests(context, origin) {
  const foreign = [];
  context.on("request", (req) => {
    const url = req.url();
    if (url.startsWith(origin + "/") || url === origin) return;
    if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return;
    foreign.push({ url, type: req.resourceType(), frame: frameURL(req) });
  });
  return foreign;
}

function frameURL(req) {
  try {
    return req.frame().url();
  } catch {
    return "";
  }
}

// login fills the login form the SPA shows at path and waits for the
// mailbox tree.
export async function login(page, base, user, pass, path = "/") {
  await page.goto(base + path);
  await page.locator(sel("login-form")).waitFor({ timeout: 10000 });
  await page.fill(sel("login-username"), user);
  await page.fill(sel("login-password"), pass);
  await page.click(sel("login-submit"));
  await page.locator(sel("mailbox-tree")).waitFor({ timeout: 10000 });
}

// loginByAPI logs in with the server's login endpoint from a page on the
// webmail's origin, so that tests of the server can go on when the login
// view is missing.
export async function loginByAPI(page, base, user, pass) {
  await page.goto(base + "/webmail/session");
  const status = await page.evaluate(async ({ user, pass }) => {
    const r = await fetch("/webmail/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: user, password: pass }),
      credentials: "same-origin",
    });
    return r.status;
  }, { user, pass });
  check(status === 200, `POST /webmail/login from the page: ${status}`);
}

export function output(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
