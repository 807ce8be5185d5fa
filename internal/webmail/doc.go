// Package webmail is the HTTP side of Postern's webmail: the single-page
// app's shell and files, the browser session, and the few endpoints the
// app needs beside JMAP. Everything about mail itself is JMAP (the app
// calls /jmap/ with its session cookie); what is here is what JMAP does
// not cover or must not be trusted to a browser to do.
//
// What it owns:
//   - webmail.go: Options, Handler, the routes, the security headers every
//     response carries (CSP without inline script or style,
//     frame-ancestors 'none', nosniff, no referrer, no-store).
//   - session.go: POST /webmail/login (JSON, same-origin only; the
//     password goes through the login throttle of every protocol, via
//     jmap.Tokens), GET /webmail/session (renews the cookie's lifetime,
//     as use moves the token's expiry), POST /webmail/logout (revokes
//     the token). The cookie postern_session holds a JMAP bearer token:
//     HttpOnly, Secure, SameSite=Strict, Path=/. internal/jmap accepts it
//     and asks for X-CSRF-Token (an HMAC of the token with a key the
//     store keeps) on every state change, here and on /jmap/.
//   - assets.go: the embedded assets/ at /assets/, versioned by a hash of
//     them all (?v=, written into the shell and into the ES module
//     imports between files), cached for a year when the version is
//     current, gzip-compressed at start; the shell (assets/index.html, a
//     template) at the app's routes, in the account's or the browser's
//     language; <meta name="postern-asset-version"> gives the version to
//     the app for the URLs it builds itself (i18n files). The set is
//     exported as Assets for the admin listener, which serves the same
//     files and its own page (assets/admin.html, the admin*.js modules):
//     one style, one icon sprite, one i18n module for both UIs.
//   - sanitize.go: Sanitize, HTML mail made safe (bluemonday and a pass
//     of our own over images): no script, handler, form, frame, object,
//     SVG, MathML, style sheet, CSS url(), or URL but http(s)/mailto
//     links; cid: images inlined, remote images kept only when allowed;
//     remote references counted; style attributes bounded (4 KiB each,
//     256 KiB in all) before bluemonday's CSS parser, quadratic in their
//     length, sees them. stylesheet.go: the message's <style> sheets,
//     read by a one-pass reader of ours and written back with the rules
//     and declarations style attributes may hold (inside @media at most).
//   - message.go: GET /webmail/html/{emailId}?remote=0|1 (the htmlBody
//     parts of internal/jmapmail, sanitised, under a CSP of its own that
//     lets nothing load unless remote images are allowed, for a sandboxed
//     iframe; X-Postern-Blocked-Remote says how many remote references
//     were removed, X-Postern-Remote whether remote images were allowed,
//     by the query or a trusted sender) and GET /webmail/raw/{emailId}.
//   - prefs.go: GET/POST /webmail/prefs, the language and trusted senders
//     (store.WebmailStore).
//   - settings.go: POST /webmail/password, GET/POST /webmail/app-passwords,
//     DELETE /webmail/app-passwords/{id}: through internal/admin, whose
//     rules apply, with the account as the actor.
//
// Limits: JSON bodies 16 KiB; the HTML read from one message 8 MiB; cid:
// images 2 MiB each and 10 MiB per view, raster types only.
//
// testdata/attacks is a corpus of hostile HTML bodies, one attack per
// file, shared with the browser tests (see its README).
package webmail
