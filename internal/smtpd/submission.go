package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"postern/internal/deliver"
)

// Signer returns the DKIM-Signature fields for a message from domain
// (nothing when the domain has no keys); *dkim.Signer is one.
type Signer interface {
	Sign(ctx context.Context, domain string, msg []byte) ([]byte, error)
}

var (
	errNoFrom    = smtpErr(550, 5, 6, 0, "Message must have exactly one From header field (RFC 5322 section 3.6)")
	errBadFrom   = smtpErr(550, 5, 6, 0, "Cannot parse the From header field")
	errBadHeader = smtpErr(550, 5, 6, 0, "Malformed message header")
)

// submitData is DATA on the submission port (RFC 6409): the message is read
// whole, its header checked and completed (§8), DKIM-signed, then handed to
// the pipeline, which stores the local copies and queues the remote ones in
// one commit. The 250 follows it.
func (s *session) submitData(r io.Reader) error {
	cfg := &s.srv.cfg
	ctx := s.srv.ctx
	checked := newCheckedReader(r, cfg.MaxHeaderBytes, cfg.MaxLineLength)
	if s.bareAtMail >= 0 {
		checked.bareSeen = func() bool { return bareCount(s.conn.Conn()) > s.bareAtMail }
	}
	raw, err := io.ReadAll(checked)
	if checked.err != nil {
		err = checked.err
	}
	if err != nil {
		return s.refuse(err)
	}
	msg, fromDomain, err := s.fixHeader(ctx, raw)
	if err != nil {
		return s.refuse(err)
	}
	if cfg.Signer != nil && fromDomain != "" {
		sig, err := cfg.Signer.Sign(ctx, fromDomain, msg)
		if err != nil {
			cfg.Logger.Error("DKIM signing failed", append(s.log(), "id", s.id, "err", err)...)
			return errLocal
		}
		msg = append(sig, msg...)
	}
	msg = append([]byte(s.receivedHeader()), msg...)
	return s.deliver(bytes.NewReader(msg), nil)
}

// dsnNotify is the NOTIFY parameter of RCPT (RFC 3461 §4.1), "" if none.
func dsnNotify(opts *smtp.RcptOptions) string {
	if opts == nil {
		return ""
	}
	var n []string
	for _, v := range opts.Notify {
		n = append(n, string(v))
	}
	return strings.Join(n, ",")
}

// refuse maps a read or header error to the reply, logging why.
func (s *session) refuse(err error) error {
	var serr *smtp.SMTPError
	switch {
	case errors.As(err, &serr):
		s.srv.cfg.Logger.Info("message refused", append(s.log(), "id", s.id, "from", s.from, "reason", serr.Message)...)
		return serr
	case errors.Is(err, smtp.ErrDataReset), errors.Is(err, smtp.ErrDataTooLarge):
		return err
	}
	s.srv.cfg.Logger.Error("reading message", append(s.log(), "id", s.id, "err", err)...)
	return errLocal
}

// fixHeader checks the header From (RFC 6409 §8: a submission server may
// refuse a sender the user is not), removes Bcc (RFC 5322 §3.6.3: it must
// not reach the To and Cc recipients), and adds Date and Message-ID when
// missing (RFC 6409 §8.2, §8.3). It returns the new message and the From
// domain, which signs it.
func (s *session) fixHeader(ctx context.Context, msg []byte) ([]byte, string, error) {
	fields, body, err := splitHeader(msg)
	if err != nil {
		return nil, "", errBadHeader
	}
	froms := headerFields(fields, "From")
	if len(froms) != 1 {
		return nil, "", errNoFrom
	}
	domain, err := s.checkHeaderFrom(ctx, "From", froms[0].value())
	if err != nil {
		return nil, "", err
	}
	// The other fields that name the author or sender are held to the
	// same rule: a client shows them in place of From.
	for _, name := range []string{"Sender", "Resent-From", "Resent-Sender"} {
		for _, f := range headerFields(fields, name) {
			if _, err := s.checkHeaderFrom(ctx, name, f.value()); err != nil {
				return nil, "", err
			}
		}
	}
	out := make([]byte, 0, len(msg)+200)
	for _, f := range fields {
		if !strings.EqualFold(f.name, "Bcc") {
			out = append(out, f.raw...)
		}
	}
	if len(headerFields(fields, "Date")) == 0 {
		out = fmt.Appendf(out, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if len(headerFields(fields, "Message-ID")) == 0 {
		out = fmt.Appendf(out, "Message-ID: <%s.%s@%s>\r\n", s.id, newID(), s.srv.cfg.Hostname)
	}
	if len(body) == 0 {
		body = []byte("\r\n")
	}
	return append(out, body...), domain, nil
}

// checkHeaderFrom parses an address field (From, Sender, Resent-From...)
// and checks that the account owns every address in it, and every address
// a display name spells (`"bob@example.org" <alice@example.org>` shows as
// bob); it returns the domain of the first address.
func (s *session) checkHeaderFrom(ctx context.Context, field, value string) (string, error) {
	// Unknown charsets in display names pass undecoded: only the
	// addresses matter here.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	list, err := p.ParseList(value)
	if err != nil || len(list) == 0 {
		if field == "From" {
			return "", errBadFrom
		}
		return "", smtpErr(550, 5, 6, 0, "Cannot parse the "+field+" header field")
	}
	for _, a := range list {
		addrs := []string{a.Address}
		addrs = append(addrs, spelledAddresses.FindAllString(a.Name, -1)...)
		for _, raw := range addrs {
			addr, err := deliver.ParseAddress(raw)
			if err == nil {
				err = s.checkOwned(addr)
			}
			if err == nil {
				continue
			}
			s.srv.cfg.Logger.Info("header address refused", append(s.log(), "id", s.id,
				"account", s.account.Address, "field", field, "address", raw)...)
			if err == errNotOwned || raw != a.Address {
				return "", smtpErr(553, 5, 7, 1, field+" header address "+raw+" not owned by the authenticated user")
			}
			return "", err
		}
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	return strings.ToLower(list[0].Address[at+1:]), nil
}

// spelledAddresses finds what looks like an address in a display name.
var spelledAddresses = regexp.MustCompile(`[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+\.[^\s<>"'(),;:@.]+`)
