package jmap

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorType is the "type" of a method-level error (RFC 8620 §3.6.2) or of a
// SetError (RFC 8620 §5.3, §5.4).
type ErrorType string

// Method-level error types of RFC 8620 §3.6.2 and of the standard methods
// (§5.1–§5.6), and those RFC 8621 adds.
const (
	ServerUnavailable   ErrorType = "serverUnavailable"
	ServerFail          ErrorType = "serverFail"
	ServerPartialFail   ErrorType = "serverPartialFail"
	UnknownMethod       ErrorType = "unknownMethod"
	InvalidArguments    ErrorType = "invalidArguments"
	InvalidResultRef    ErrorType = "invalidResultReference"
	Forbidden           ErrorType = "forbidden"
	AccountNotFound     ErrorType = "accountNotFound"
	AccountNotSupported ErrorType = "accountNotSupportedByMethod"
	AccountReadOnly     ErrorType = "accountReadOnly"

	RequestTooLarge         ErrorType = "requestTooLarge"
	CannotCalculateChanges  ErrorType = "cannotCalculateChanges"
	StateMismatch           ErrorType = "stateMismatch"
	FromAccountNotFound     ErrorType = "fromAccountNotFound"
	FromAccountNotSupported ErrorType = "fromAccountNotSupportedByMethod"
	AnchorNotFound          ErrorType = "anchorNotFound"
	UnsupportedSort         ErrorType = "unsupportedSort"
	UnsupportedFilter       ErrorType = "unsupportedFilter"
	TooManyChanges          ErrorType = "tooManyChanges"
)

// SetError types (RFC 8620 §5.3, §5.4; RFC 8621 §4.6, §7.5). Some are also
// used as method-level errors by extensions.
const (
	TooLarge          ErrorType = "tooLarge"
	NotFound          ErrorType = "notFound"
	OverQuota         ErrorType = "overQuota"
	RateLimit         ErrorType = "rateLimit"
	InvalidPatch      ErrorType = "invalidPatch"
	WillDestroy       ErrorType = "willDestroy"
	InvalidProperties ErrorType = "invalidProperties"
	Singleton         ErrorType = "singleton"
	AlreadyExists     ErrorType = "alreadyExists"
	Limit             ErrorType = "limit"
)

// Error is a method-level error, answered as ["error", {type, description,
// ...}, callId], and the shape of a SetError too. A Method returns it (as
// error) to have it sent; any other error becomes serverFail and is logged,
// never shown to the client.
type Error struct {
	Type        ErrorType
	Description string
	// Properties are extra members of the error object, e.g. "limit" for
	// requestTooLarge, "properties" for invalidProperties, "existingId"
	// for alreadyExists. Keys "type" and "description" are ignored.
	Properties map[string]any
}

// NewError returns an Error of type t.
func NewError(t ErrorType, description string) *Error {
	return &Error{Type: t, Description: description}
}

// With adds an extra property to the error and returns it.
func (e *Error) With(key string, value any) *Error {
	if e.Properties == nil {
		e.Properties = make(map[string]any)
	}
	e.Properties[key] = value
	return e
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "jmap: " + string(e.Type)
	}
	return "jmap: " + string(e.Type) + ": " + e.Description
}

// MarshalJSON writes {"type":..., "description":..., extra properties...}.
func (e *Error) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Properties)+2)
	for k, v := range e.Properties {
		m[k] = v
	}
	m["type"] = e.Type
	if e.Description != "" {
		m["description"] = e.Description
	} else {
		delete(m, "description")
	}
	return json.Marshal(m)
}

// Request-level error types (RFC 8620 §3.6.1), sent as RFC 7807 problem
// details.
const (
	ProblemUnknownCapability = "urn:ietf:params:jmap:error:unknownCapability"
	ProblemNotJSON           = "urn:ietf:params:jmap:error:notJSON"
	ProblemNotRequest        = "urn:ietf:params:jmap:error:notRequest"
	ProblemLimit             = "urn:ietf:params:jmap:error:limit"
)

// problem is an RFC 7807 problem details object.
type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Limit names the limit exceeded, for ProblemLimit (RFC 8620 §3.6.1).
	Limit string `json:"limit,omitempty"`
}

// writeProblem sends p as application/problem+json. Cache-Control is set by
// ServeHTTP for every response.
func writeProblem(w http.ResponseWriter, p problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	b, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(p.Status)
	w.Write(b)
}

// httpProblem sends a plain HTTP failure (no JMAP type) as a problem.
func httpProblem(w http.ResponseWriter, status int, detail string) {
	writeProblem(w, problem{Type: "about:blank", Status: status, Detail: detail})
}
