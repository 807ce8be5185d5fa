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
// commands.go is the table of commands, tests, tags and the extensions
// they need; validate.go and resolve.go check a tree against it and
// resolve arguments; compile.go holds Options, Compile and include
// loading; run.go executes commands and collects actions; tests.go
// evaluates tests; match.go holds comparators and match types;
// strings.go variable references and encoded characters; message.go
// reads the message's header and addresses; the ext_*.go files hold
// what each extension adds; vacation_reply.go decides whether a
// vacation reply goes out and builds it.
//
// Limits (Options): script size, nesting, list lengths at compile time;
// actions, redirects, include depth and a step counter at run time. A
// run that hits one returns an error and the caller keeps the message.
//
// Pigeonhole (Dovecot's Sieve) is the reference where RFCs leave room:
// testdata/corpus holds script and message pairs run through both; see
// corpus_test.go.
package sieve
