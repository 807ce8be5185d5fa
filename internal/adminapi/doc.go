// Package adminapi is the admin listener (`[listen] admin`, loopback by
// default): the JSON API under /admin/api/ that the web admin and scripts
// call, the web admin's page under /admin/, and the handlers other
// packages mount on it (Options.Extra: /metrics, /healthz, /readyz).
//
// It is a face of internal/admin: every rule (validation, what a change
// does, its audit record) lives there, so the API's refusals read exactly
// like the CLI's. This package adds only what HTTP needs:
//
//   - server.go: the listener, which refuses a non-loopback address unless
//     it serves TLS, and the security headers of every answer.
//   - auth.go: login (auth.Service.LoginPrincipal, the throttle every
//     protocol shares, and the optional TOTP code), the session cookie
//     (HttpOnly, Secure, SameSite=Strict, Path=/admin/) with its CSRF token
//     required on every change, API tokens (Authorization: Bearer, no CSRF
//     needed), and the scope of domain administrators. A mail account's
//     password, session or JMAP token never authenticates here:
//     administrators are their own principals.
//   - request.go: JSON decoding (size limit, unknown fields refused, one
//     object) and the error answer {"error": "...", "kind": "..."}.
//   - domains.go, accounts.go, aliases.go, sieve.go, audit.go: the
//     endpoints, each thin over one admin.Service method; import.go reads
//     a text/csv body for the bulk import (answered 422 when any row is
//     refused).
//
// Every change runs with the actor "admin:<name>", so the audit log line
// and the audit table name the administrator; a domain administrator's
// request about another domain gets 403 and a log line saying who asked.
package adminapi
