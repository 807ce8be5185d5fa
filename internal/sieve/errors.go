package sieve

import (
	"errors"
	"fmt"
)

// Error is a compile error at a position in a script. Line and Column
// are 1-based; Column counts bytes.
type Error struct {
	Line, Column int
	Msg          string
	// Script names the included script the error is in; "" for the
	// main script.
	Script string
}

func (e *Error) Error() string {
	if e.Script != "" {
		return fmt.Sprintf("%s: line %d, column %d: %s", e.Script, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// ErrScriptNotFound is what Options.Include returns for a script that
// does not exist.
var ErrScriptNotFound = errors.New("sieve: script not found")

// RuntimeError is an error while running a script: a limit hit, actions
// that cannot be combined, a failed include. The caller keeps the
// message in INBOX (RFC 5228 §2.10.6).
type RuntimeError struct {
	Line, Column int
	Msg          string
}

func (e *RuntimeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("sieve: runtime error at line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return "sieve: runtime error: " + e.Msg
}

// pos is a position in a script.
type pos struct{ line, col int }

func errAt(p pos, format string, args ...any) *Error {
	return &Error{Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)}
}
