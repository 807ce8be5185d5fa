// Package e2e holds the end-to-end tests of Postern: TestMain builds the
// real binary, each test starts it with its own data dir on free loopback
// ports and drives it with independent clients (Go's go-smtp client, raw
// connections for protocol edge cases, Python's smtplib and poplib from
// py/, and swaks). Run with `make e2e`; scripts/deps.sh installs the tools.
package e2e
