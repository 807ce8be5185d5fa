package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"postern/internal/admin"
)

// maxBody bounds a request body: the largest thing sent is a Sieve script
// (admin.MaxSieveScriptSize) with JSON's escaping.
const maxBody = 1 << 20

// apiError is an answer other than success; Kind is one of invalid,
// notfound, exists, conflict, forbidden, unauthorized, throttled, internal.
type apiError struct {
	Status int    `json:"-"`
	Msg    string `json:"error"`
	Kind   string `json:"kind"`
	// Line and Column say where a Sieve script was refused.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

func (e *apiError) Error() string { return e.Msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Kind: "invalid", Msg: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Kind: "unauthorized", Msg: "not logged in"}
	errLoginFailed  = &apiError{Status: http.StatusUnauthorized, Kind: "unauthorized", Msg: "authentication failed"}
	errThrottled    = &apiError{Status: http.StatusTooManyRequests, Kind: "throttled", Msg: "too many failed logins, try later"}
	errCSRF         = &apiError{Status: http.StatusForbidden, Kind: "forbidden", Msg: "missing or wrong X-CSRF-Token header"}
	errInternal     = &apiError{Status: http.StatusInternalServerError, Kind: "internal", Msg: "internal error; see the server log"}
)

// toAPIError maps an admin.Error by its kind; anything else is internal.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var e *admin.Error
	if !errors.As(err, &e) {
		return errInternal
	}
	out := &apiError{Msg: e.Msg}
	switch e.Kind {
	case admin.KindInvalid:
		out.Status, out.Kind = http.StatusBadRequest, "invalid"
	case admin.KindNotFound:
		out.Status, out.Kind = http.StatusNotFound, "notfound"
	case admin.KindExists:
		out.Status, out.Kind = http.StatusConflict, "exists"
	case admin.KindConflict:
		out.Status, out.Kind = http.StatusConflict, "conflict"
	case admin.KindForbidden:
		out.Status, out.Kind = http.StatusForbidden, "forbidden"
	default:
		return errInternal
	}
	return out
}

// decodeJSON reads the request body, one JSON object, into v: a body over
// maxBody, a Content-Type other than application/json, a field v does not have, or anything
// after the object is refused with a message that says which.
func decodeJSON(r *http.Request, v any) error {
	// A page of another site can send a form or a text body without
	// asking (no CORS preflight), but not one declared application/json.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Kind: "invalid",
			Msg: "request body must be application/json (Content-Type: application/json)"}
	}
	return decodeBody(http.MaxBytesReader(nil, r.Body, maxBody), v)
}

// decodeBody is decodeJSON's parser, apart for the fuzz target.
func decodeBody(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return &apiError{Status: http.StatusRequestEntityTooLarge, Kind: "invalid",
				Msg: fmt.Sprintf("request body is larger than %d bytes", maxBody)}
		case errors.Is(err, io.EOF):
			return badRequest("request body: a JSON object is required")
		case errors.As(err, &ute):
			return badRequest("request body: field %q must be %s", ute.Field, ute.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badRequest("request body: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return badRequest("request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: one JSON object, nothing after it")
	}
	return nil
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, e)
}

var stringType = reflect.TypeOf("")

// flexString is a JSON string or number taken as its text: a quota may be
// sent as 1048576 or "1M".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: stringType}
	}
	*f = flexString(n.String())
	return nil
}
