// Package sieve owns the Sieve mail filtering language (RFC 5228) and the
// extensions Postern offers: it parses and validates scripts (Compile),
// and interprets them against one message and envelope (Script.Run),
// returning the actions to take as a Result. It is pure: scripts,
// included scripts, the message, mailbox existence and duplicate
// tracking all come in through Options and Env, and nothing here reads
// files, talks to the network or writes state. Executing the Result
// (storing, redirecting, replying, recording duplicates) is the caller's
// job (internal/deliver).
//
// Layout: lexer.go and parser.go turn text into a syntax tree;
// validate.go checks it against the command table in commands.go and
// resolves arguments; run.go executes commands and collects actions;
// tests.go evaluates tests; match.go holds comparators and match types;
// message.go reads the message's header and addresses; the ext_*.go
// files hold what each extension adds.
package sieve
