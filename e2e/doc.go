// Package e2e holds the end-to-end tests of Postern: TestMain builds the
// real binary, each test starts it with its own data dir on free loopback
// ports and drives it with independent clients (Go's go-smtp client, raw
// connections for protocol edge cases, Python's smtplib and poplib from
// py/, swaks, and go-imap's imapclient).
//
// The webmail is tested in Debian's Chromium driven by playwright-core
// (Node scripts in testdata/browser, one JSON answer each, asserted by
// webmail_*_test.go): the attack corpus of internal/webmail/testdata/attacks
// with every remote host name resolved to a logging loopback "beacon", two
// users' flows (login to logout), and screenshots of the main screens in
// English and Chinese at phone and desktop widths, written to screenshots/
// (not committed) for a person to look at. The webmail's figures at 10,000
// and 100,000 messages are bench/'s BenchmarkWebmail.
//
// Run with `make e2e` (scripts/deps.sh installs the tools), one test with
// `go test -run TestName ./e2e/`, and with the race detector built into
// the server with POSTERN_E2E_RACE=1 (`make e2e-race`). A failing test
// prints the server's stdout and log.
package e2e
