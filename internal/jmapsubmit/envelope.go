package jmapsubmit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"postern/internal/deliver"
	"postern/internal/jmap"
)

// envelope is an Envelope (RFC 8621 §7): the SMTP envelope of a
// submission, given by the client or derived from the Email.
type envelope struct {
	MailFrom envelopeAddress   `json:"mailFrom"`
	RcptTo   []envelopeAddress `json:"rcptTo"`
}

// envelopeAddress is an Address of an Envelope: an email and its SMTP
// parameters (null for none; a parameter without a value is null).
type envelopeAddress struct {
	Email      string             `json:"email"`
	Parameters map[string]*string `json:"parameters"`
}

// Limits of a client's envelope, beyond the submission port's own.
const (
	maxEnvelopeRcpts  = 1000 // whatever MaxRecipients says, decoding stops here
	maxParameters     = 8
	maxParameterName  = 20
	maxParameterValue = 500
)

var errBadEnvelope = errors.New("envelope is not an Envelope")

// decodeEnvelope reads an envelope property: nil for null (derive it from
// the Email), an error when it is not an Envelope within the limits.
func decodeEnvelope(raw json.RawMessage) (*envelope, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	var env *envelope
	if err := d.Decode(&env); err != nil {
		return nil, errBadEnvelope
	}
	if env == nil {
		return nil, nil
	}
	if env.RcptTo == nil || len(env.RcptTo) > maxEnvelopeRcpts {
		return nil, errBadEnvelope
	}
	for _, a := range append([]envelopeAddress{env.MailFrom}, env.RcptTo...) {
		if len(a.Email) > maxEmailBytes || len(a.Parameters) > maxParameters {
			return nil, errBadEnvelope
		}
		for k, v := range a.Parameters {
			if k == "" || len(k) > maxParameterName || (v != nil && len(*v) > maxParameterValue) {
				return nil, errBadEnvelope
			}
		}
	}
	return env, nil
}

// sendParams are the SMTP parameters of an envelope that the pipeline
// takes (RFC 3461 DSN, RFC 8689 REQUIRETLS); the others allowed (BODY,
// SMTPUTF8, SIZE) only describe the message.
type sendParams struct {
	ret, envID string
	requireTLS bool
	rcpts      []deliver.RcptOptions
}

// checkParameters accepts the parameters of the extensions submission
// advertises (Options.Extensions), with their syntax; anything else is
// an invalid envelope.
func checkParameters(env *envelope, ext map[string][]string) (sendParams, *jmap.Error) {
	bad := func(desc string) (sendParams, *jmap.Error) {
		return sendParams{}, invalidProperties(desc, "envelope")
	}
	var out sendParams
	for name, v := range env.MailFrom.Parameters {
		val := ""
		if v != nil {
			val = *v
		}
		switch n := strings.ToUpper(name); {
		case n == "BODY" && has(ext, "8BITMIME"):
			if u := strings.ToUpper(val); u != "7BIT" && u != "8BITMIME" {
				return bad("BODY must be 7BIT or 8BITMIME")
			}
		case n == "SMTPUTF8" && has(ext, "SMTPUTF8"):
			if v != nil {
				return bad("SMTPUTF8 takes no value")
			}
		case n == "SIZE" && has(ext, "SIZE"):
			if !allDigits(val) || len(val) > 20 {
				return bad("SIZE must be a number")
			}
		case n == "RET" && has(ext, "DSN"):
			if out.ret = strings.ToUpper(val); out.ret != "FULL" && out.ret != "HDRS" {
				return bad("RET must be FULL or HDRS")
			}
		case n == "ENVID" && has(ext, "DSN"):
			if !isXtext(val) || val == "" || len(val) > 100 {
				return bad("ENVID must be xtext of at most 100 characters")
			}
			out.envID = val
		case n == "REQUIRETLS" && has(ext, "REQUIRETLS"):
			// RFC 8689 §4.1: every hop onward must use verified TLS.
			if v != nil {
				return bad("REQUIRETLS takes no value")
			}
			out.requireTLS = true
		default:
			return bad("mailFrom parameter " + name + " is not supported")
		}
	}
	for _, r := range env.RcptTo {
		var o deliver.RcptOptions
		for name, v := range r.Parameters {
			val := ""
			if v != nil {
				val = *v
			}
			switch n := strings.ToUpper(name); {
			case n == "NOTIFY" && has(ext, "DSN"):
				if o.Notify = strings.ToUpper(val); !validNotify(o.Notify) {
					return bad("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY")
				}
			case n == "ORCPT" && has(ext, "DSN"):
				typ, addr, ok := strings.Cut(val, ";")
				if !ok || !strings.EqualFold(typ, "rfc822") || addr == "" || !isXtext(addr) {
					return bad("ORCPT must be rfc822;address")
				}
				o.ORcpt = "rfc822;" + addr
			default:
				return bad("rcptTo parameter " + name + " is not supported")
			}
		}
		out.rcpts = append(out.rcpts, o)
	}
	return out, nil
}

func has(ext map[string][]string, name string) bool {
	_, ok := ext[name]
	return ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isXtext: printable US-ASCII without "=" and "+" unless "+" starts a hex
// escape (RFC 3461 §4).
func isXtext(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case c < '!' || c > '~' || c == '=':
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// validNotify: NEVER alone, or SUCCESS, FAILURE and DELAY, each once
// (RFC 3461 §4.1).
func validNotify(v string) bool {
	if v == "NEVER" {
		return true
	}
	seen := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		if (p != "SUCCESS" && p != "FAILURE" && p != "DELAY") || seen[p] {
			return false
		}
		seen[p] = true
	}
	return true
}

// deriveEnvelope makes the envelope of an Email sent without one (RFC 8621
// §7): mailFrom is the Sender address, else the one From address; rcptTo
// the addresses of To, Cc and Bcc, each once. It names the Email
// properties at fault when they do not give one.
func deriveEnvelope(fields []deliver.HeaderField) (*envelope, []string) {
	from := deliver.FieldsNamed(fields, "Sender")
	prop := "sender"
	if len(from) == 0 {
		from, prop = deliver.FieldsNamed(fields, "From"), "from"
	}
	if len(from) != 1 {
		return nil, []string{prop}
	}
	list, err := deliver.ParseAddressList(from[0].Value())
	if err != nil || len(list) != 1 {
		return nil, []string{prop}
	}
	env := &envelope{MailFrom: envelopeAddress{Email: list[0].Address}, RcptTo: []envelopeAddress{}}
	seen := map[string]bool{}
	var bad []string
	for _, name := range []string{"To", "Cc", "Bcc"} {
		for _, f := range deliver.FieldsNamed(fields, name) {
			if strings.TrimSpace(f.Value()) == "" {
				continue
			}
			list, err := deliver.ParseAddressList(f.Value())
			if err != nil {
				bad = append(bad, strings.ToLower(name))
				break
			}
			for _, a := range list {
				if key := strings.ToLower(a.Address); !seen[key] {
					seen[key] = true
					env.RcptTo = append(env.RcptTo, envelopeAddress{Email: a.Address})
				}
			}
		}
	}
	if bad != nil {
		return nil, bad
	}
	return env, nil
}
