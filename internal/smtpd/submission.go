package smtpd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"postern/internal/deliver"
	"postern/internal/smtpserver"
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
	raw, err := io.ReadAll(checked)
	if checked.err != nil {
		err = checked.err
	}
	if err != nil && clientGone(err) {
		cfg.Logger.Info("message aborted: connection lost", append(s.log(), "id", s.id, "err", err)...)
		return err
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
func dsnNotify(opts *smtpserver.RcptOptions) string {
	if opts == nil {
		return ""
	}
	return strings.Join(opts.Notify, ",")
}

// refuse maps a read or header error to the reply, logging why.
func (s *session) refuse(err error) error {
	var serr *smtpserver.Reply
	switch {
	case errors.As(err, &serr):
		s.srv.cfg.Logger.Info("message refused", append(s.log(), "id", s.id, "from", s.from, "reason", serr.Text)...)
		return serr
	case errors.Is(err, smtpserver.ErrDataReset), errors.Is(err, smtpserver.ErrDataTooLarge):
		return err
	}
	s.srv.cfg.Logger.Error("reading message", append(s.log(), "id", s.id, "err", err)...)
	return errLocal
}

// fixHeader applies the submission rule of the pipeline (the one JMAP
// sending uses too) and turns a refusal into its reply.
func (s *session) fixHeader(ctx context.Context, msg []byte) ([]byte, string, error) {
	out, domain, err := s.srv.cfg.Pipeline.CheckSubmission(ctx, *s.account, msg,
		deliver.SubmitOptions{ID: s.id, Hostname: s.srv.cfg.Hostname})
	he, ok := deliver.IsHeaderError(err)
	switch {
	case err == nil:
		return out, domain, nil
	case !ok:
		return nil, "", err
	case he.Problem == deliver.HeaderNoFrom:
		return nil, "", errNoFrom
	case he.Problem == deliver.HeaderUnparsable && he.Field == "From":
		return nil, "", errBadFrom
	case he.Problem == deliver.HeaderUnparsable:
		return nil, "", smtpErr(550, 5, 6, 0, "Cannot parse the "+he.Field+" header field")
	case he.Problem == deliver.HeaderNotOwned:
		s.srv.cfg.Logger.Info("header address refused", append(s.log(), "id", s.id,
			"account", s.account.Address, "field", he.Field, "address", he.Address)...)
		return nil, "", smtpErr(553, 5, 7, 1, he.Field+" header address "+he.Address+" not owned by the authenticated user")
	}
	return nil, "", errBadHeader
}
