package admin

import (
	"errors"
	"fmt"

	"postern/internal/store"
)

// Kind classifies an Error the way a face answers it: an HTTP face maps
// KindNotFound to 404, KindExists and KindConflict to 409, KindInvalid to
// 400, KindForbidden to 403.
type Kind int

const (
	// KindInvalid: the input is malformed or breaks a rule on its own (a
	// bad address, a short password, a quota that is not a size).
	KindInvalid Kind = iota + 1
	// KindNotFound: the thing named does not exist.
	KindNotFound
	// KindExists: the thing to create exists already.
	KindExists
	// KindConflict: the change is well-formed but clashes with something
	// else that exists (an account over an alias, or the reverse).
	KindConflict
	// KindForbidden: the actor may not do this (a domain administrator
	// asking about another domain, or for a server administrator's task).
	KindForbidden
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindExists:
		return "exists"
	case KindConflict:
		return "conflict"
	case KindForbidden:
		return "forbidden"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a refusal an administrator reads: Msg names the thing and what
// to do. Err, when set, is the cause (a store sentinel such as
// store.ErrNotFound, or a parse error), so errors.Is sees through it.
type Error struct {
	Kind Kind
	// Field is what the error is about: "domain", "address", "password",
	// "quota", "destination", "name", "id".
	Field string
	// Value is the offending value as given (never a password).
	Value string
	Msg   string
	Err   error
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the *Error in err's chain, or 0 when there is
// none (an internal failure a face reports as such).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func invalid(field, value string, cause error, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Field: field, Value: value, Msg: fmt.Sprintf(format, args...), Err: cause}
}

func notFound(field, value, what string) *Error {
	return &Error{Kind: KindNotFound, Field: field, Value: value, Msg: what + " does not exist", Err: store.ErrNotFound}
}

func exists(field, value, what string) *Error {
	return &Error{Kind: KindExists, Field: field, Value: value, Msg: what + " already exists", Err: store.ErrExists}
}

func conflict(field, value string, cause error, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Field: field, Value: value, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// storeErr turns the store's sentinel errors into an *Error about what
// (e.g. "domain example.org"), and leaves other errors (I/O, a closed
// store) as they are.
func storeErr(err error, field, value, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(field, value, what)
	case errors.Is(err, store.ErrExists):
		return exists(field, value, what)
	case errors.Is(err, store.ErrInvalid):
		// The store's own checks (lengths, counts) say what they refused.
		return &Error{Kind: KindInvalid, Field: field, Value: value, Msg: what + ": " + err.Error(), Err: err}
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func isExists(err error) bool { return errors.Is(err, store.ErrExists) }
