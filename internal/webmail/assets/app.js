// PLACEHOLDER (W1): W2 replaces this file with the real app. It only
// logs in and out, so the server's tests and `postern dev` have a page.
const app = document.getElementById("app");

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

async function main() {
  const r = await fetch("/webmail/session", { credentials: "same-origin" });
  app.replaceChildren();
  if (r.ok) {
    const s = await r.json();
    const out = el("button", { "data-test": "logout", type: "button" }, "Log out");
    out.addEventListener("click", async () => {
      await fetch("/webmail/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": s.csrf } });
      main();
    });
    app.append(el("p", {}, "Logged in as " + s.username), out);
    return;
  }
  const user = el("input", { "data-test": "login-username", name: "username", autocomplete: "username", "aria-label": "Username" });
  const pass = el("input", { "data-test": "login-password", name: "password", type: "password", autocomplete: "current-password", "aria-label": "Password" });
  const err = el("p", { "data-test": "login-error", role: "alert" });
  const form = el("form", { "data-test": "login-form" }, user, pass, el("button", { "data-test": "login-submit" }, "Log in"), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await fetch("/webmail/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: user.value, password: pass.value }),
    });
    if (res.ok) main();
    else err.textContent = (await res.json()).error;
  });
  app.append(form);
}

main();
