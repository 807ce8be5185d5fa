package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"

	"postern/internal/store"
)

// HeaderProblem says why the header of a submitted message is refused.
type HeaderProblem int

const (
	// HeaderMalformed: the header block does not parse.
	HeaderMalformed HeaderProblem = iota + 1
	// HeaderNoFrom: not exactly one From field (RFC 5322 §3.6).
	HeaderNoFrom
	// HeaderUnparsable: an address field does not parse.
	HeaderUnparsable
	// HeaderNotOwned: an address field names an address the account may
	// not send as.
	HeaderNotOwned
)

// HeaderError is a submitted message's header that the submission rule
// refuses; Field and Address name what is at fault.
type HeaderError struct {
	Problem HeaderProblem
	Field   string
	Address string
}

func (e *HeaderError) Error() string {
	switch e.Problem {
	case HeaderNoFrom:
		return "message must have exactly one From header field"
	case HeaderUnparsable:
		return "cannot parse the " + e.Field + " header field"
	case HeaderNotOwned:
		return e.Field + " header address " + e.Address + " not owned by the account"
	}
	return "malformed message header"
}

// SubmitOptions complete a submitted header.
type SubmitOptions struct {
	// ID and Hostname make the Message-ID added when there is none.
	ID, Hostname string
}

// CheckSubmission applies the submission rule (RFC 6409 §8) to the header
// of msg, a message acct submits, whichever way it comes (SMTP
// submission, JMAP EmailSubmission): From, Sender, Resent-From and
// Resent-Sender may name only addresses the account owns (Owns), also
// where a display name spells one; Bcc is removed (RFC 5322 §3.6.3: it
// must not reach the To and Cc recipients), and so is Return-Path (RFC
// 5321 §4.4: final delivery adds it; a message sent again, such as a
// stored one sent over JMAP, carries the old one); Date and Message-ID are added
// when missing (RFC 6409 §8.2, §8.3). It returns the new message and the
// domain of the From address, which signs it. A refusal is a *HeaderError;
// any other error is a local failure.
func (p *Pipeline) CheckSubmission(ctx context.Context, acct store.Account, msg []byte, o SubmitOptions) ([]byte, string, error) {
	fields, body, err := SplitHeader(msg)
	if err != nil {
		return nil, "", &HeaderError{Problem: HeaderMalformed}
	}
	froms := FieldsNamed(fields, "From")
	if len(froms) != 1 {
		return nil, "", &HeaderError{Problem: HeaderNoFrom, Field: "From"}
	}
	domain, err := p.checkHeaderFrom(ctx, acct, "From", froms[0].Value())
	if err != nil {
		return nil, "", err
	}
	// The other fields that name the author or sender are held to the
	// same rule: a client shows them in place of From.
	for _, name := range []string{"Sender", "Resent-From", "Resent-Sender"} {
		for _, f := range FieldsNamed(fields, name) {
			if _, err := p.checkHeaderFrom(ctx, acct, name, f.Value()); err != nil {
				return nil, "", err
			}
		}
	}
	out := make([]byte, 0, len(msg)+200)
	for _, f := range fields {
		if !strings.EqualFold(f.Name, "Bcc") && !strings.EqualFold(f.Name, "Return-Path") {
			out = append(out, f.Raw...)
		}
	}
	if len(FieldsNamed(fields, "Date")) == 0 {
		out = fmt.Appendf(out, "Date: %s\r\n", p.now().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	}
	if len(FieldsNamed(fields, "Message-ID")) == 0 {
		out = fmt.Appendf(out, "Message-ID: <%s.%s@%s>\r\n", o.ID, newID(), o.Hostname)
	}
	if len(body) == 0 {
		body = []byte("\r\n")
	}
	return append(out, body...), domain, nil
}

// ParseAddressList parses an address field's value as RFC 5322 §3.4 has it;
// words in unknown charsets stay undecoded, only the addresses matter.
func ParseAddressList(value string) ([]*mail.Address, error) {
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	return p.ParseList(value)
}

// checkHeaderFrom parses an address field and checks that the account owns
// every address in it, and every address a display name spells
// (`"bob@example.org" <alice@example.org>` shows as bob); it returns the
// domain of the first address.
func (p *Pipeline) checkHeaderFrom(ctx context.Context, acct store.Account, field, value string) (string, error) {
	list, err := ParseAddressList(value)
	if err != nil || len(list) == 0 {
		return "", &HeaderError{Problem: HeaderUnparsable, Field: field}
	}
	for _, a := range list {
		addrs := []string{a.Address}
		addrs = append(addrs, spelledAddresses.FindAllString(a.Name, -1)...)
		for _, raw := range addrs {
			addr, err := ParseAddress(raw)
			owned := false
			if err == nil {
				if owned, err = p.Owns(ctx, acct, addr); err != nil {
					return "", err
				}
			}
			if !owned {
				return "", &HeaderError{Problem: HeaderNotOwned, Field: field, Address: raw}
			}
		}
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	return strings.ToLower(list[0].Address[at+1:]), nil
}

// spelledAddresses finds what looks like an address in a display name.
var spelledAddresses = regexp.MustCompile(`[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+\.[^\s<>"'(),;:@.]+`)

// IsHeaderError tells whether err is a refusal of CheckSubmission.
func IsHeaderError(err error) (*HeaderError, bool) {
	var he *HeaderError
	ok := errors.As(err, &he)
	return he, ok
}
