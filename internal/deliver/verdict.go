package deliver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"postern/internal/authcheck"
	"postern/internal/store"
)

// The verdicts step: mail from port 25 is checked once, before anything
// is stored or filtered (SPF, DKIM, DMARC, ARC, iprev; package
// authcheck). The message is refused, deferred, or stored with one
// Authentication-Results field on top, so that every recipient's Sieve
// script sees it; a DMARC quarantine sends the copies meant for INBOX to
// the recipient's Junk mailbox.

// PolicyError is the inbound checks' refusal of a message: Temporary when
// a DNS failure left the verdict open.
type PolicyError struct {
	Temporary bool
	Reason    string
}

func (e *PolicyError) Error() string {
	if e.Temporary {
		return "deferred by inbound checks: " + e.Reason
	}
	return "refused by inbound checks: " + e.Reason
}

// CountRecorder keeps the DMARC evaluations for aggregate reports; it
// must not block.
type CountRecorder interface {
	Add([]authcheck.Count)
}

// spoolMemory is how much of a message is held in memory while it is
// checked; the rest goes to an unlinked temporary file.
const spoolMemory = 1 << 20

// spoolKept bounds the buffers kept for the next message: a typical
// message's, not the odd large one's.
const spoolKept = 64 << 10

// spool holds a message being checked. Its memory comes from buffers,
// which saves each message a buffer grown from scratch.
type spool struct {
	buffers *sync.Pool
	mem     *bytes.Buffer
	file    *os.File
	size    int64
}

func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < int64(s.mem.Len()) {
		n = copy(p, s.mem.Bytes()[off:])
		if n == len(p) {
			return n, nil
		}
	}
	if s.file == nil {
		return n, io.EOF
	}
	m, err := s.file.ReadAt(p[n:], off+int64(n)-int64(s.mem.Len()))
	return n + m, err
}

// close frees the spool; nothing may read it afterwards.
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
	}
	if s.mem != nil && s.mem.Cap() <= spoolKept {
		s.mem.Reset()
		s.buffers.Put(s.mem)
	}
	s.mem = nil
}

// fill reads r into the spool.
func (s *spool) fill(r io.Reader) error {
	s.mem, _ = s.buffers.Get().(*bytes.Buffer)
	if s.mem == nil {
		s.mem = new(bytes.Buffer)
	}
	n, err := io.CopyN(s.mem, r, spoolMemory)
	s.size = n
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	if s.file, err = os.CreateTemp("", "postern-spool-"); err != nil {
		return err
	}
	_ = os.Remove(s.file.Name()) // unlinked: gone with the process, whatever happens
	m, err := io.Copy(s.file, r)
	s.size += m
	return err
}

// check runs the verdicts on a message from port 25. It returns the body
// to store (the Authentication-Results field on top, any field claiming
// our authserv-id removed), or a *PolicyError. release frees the spool
// once the body is stored.
func (t *Transaction) check(ctx context.Context, checks *authcheck.Checker, body io.Reader) (out io.Reader, release func(), err error) {
	sp := &spool{buffers: &t.p.spools}
	if err := sp.fill(body); err != nil {
		sp.close()
		return nil, nil, err
	}
	v := checks.Check(ctx, authcheck.Input{IP: t.env.RemoteIP, Helo: t.env.Helo, MailFrom: t.env.Sender, Message: sp, Size: sp.size})
	if t.p.counts != nil && len(v.Counts) > 0 {
		t.p.counts.Add(v.Counts)
	}
	t.authSummary = v.Summary
	t.verdict = &v
	switch v.Action {
	case authcheck.Reject, authcheck.Defer:
		sp.close()
		perr := &PolicyError{Temporary: v.Action == authcheck.Defer, Reason: v.Reason}
		t.p.log.Info("message refused by inbound checks", "id", t.env.ID, "from", t.env.Sender, "ip", t.env.RemoteIP.String(),
			"action", v.Action.String(), "reason", v.Reason, "auth", v.Summary)
		t.recordRefusal("", fmt.Errorf("%s; %s", perr.Error(), v.Summary))
		return nil, nil, perr
	case authcheck.Junk:
		t.junk = true
		t.authSummary += " -> Junk"
	}
	head, headLen := t.keptHeader(sp)
	out = io.MultiReader(strings.NewReader(v.Header), bytes.NewReader(head), io.NewSectionReader(sp, headLen, sp.size-headLen))
	return out, sp.close, nil
}

// keptHeader returns the header section of the spooled message without
// the Authentication-Results fields that claim our authserv-id (RFC 8601
// §5: a forgery, or a result from before that no longer holds), and the
// length of the section it replaces; nil and 0 when nothing is removed.
func (t *Transaction) keptHeader(sp *spool) ([]byte, int64) {
	// The header is within the spool's memory: maxHeaderRead < spoolMemory.
	head := headerSection(sp.mem.Bytes())
	if !hasField(head, "Authentication-Results") {
		return nil, 0 // most mail: no field to look at more closely
	}
	// Read as the checks read it, not with SplitHeader, which gives up at
	// a line that is no field and would leave a claim behind one.
	kept, dropped := authcheck.WithoutOurResults(head, t.p.authservID)
	if dropped == 0 {
		return nil, 0
	}
	t.p.log.Info("removed Authentication-Results claiming our name", "id", t.env.ID, "fields", dropped)
	return kept, int64(len(head))
}

// headerSection returns the lines of msg before the empty line that ends
// the header, reading no line that starts beyond maxHeaderRead.
func headerSection(msg []byte) []byte {
	n := 0
	for n < len(msg) && n < maxHeaderRead {
		end := bytes.IndexByte(msg[n:], '\n')
		if end < 0 {
			return msg
		}
		if end == 1 && msg[n] == '\r' {
			break
		}
		n += end + 1
	}
	return msg[:n]
}

// hasField tells whether a header section has a field named name (a line
// that starts with it and a colon, whatever the case).
func hasField(head []byte, name string) bool {
	for line := range bytes.Lines(head) {
		// White space before the colon: RFC 5322 §4.5's obsolete syntax.
		if len(line) > len(name) && strings.EqualFold(string(line[:len(name)]), name) &&
			bytes.HasPrefix(bytes.TrimLeft(line[len(name):], " \t"), []byte(":")) {
			return true
		}
	}
	return false
}

// junkTargets sends the copies a quarantined message would put in INBOX
// to the account's Junk mailbox instead: the mailbox with the \Junk
// special use, else one named Junk, made when missing.
// It returns the Junk mailbox's name, "" when no copy goes there.
func (t *Transaction) junkTargets(ctx context.Context, acct store.Account, keep []Keep) ([]Keep, string) {
	name := ""
	out := make([]Keep, len(keep))
	for i, k := range keep {
		out[i] = k
		if k.Mailbox != "" && !strings.EqualFold(k.Mailbox, "INBOX") {
			continue
		}
		if name == "" {
			name = t.junkMailbox(ctx, acct)
		}
		out[i].Mailbox, out[i].Create = name, true
	}
	return out, name
}

func (t *Transaction) junkMailbox(ctx context.Context, acct store.Account) string {
	mbs, err := t.p.ms.Mailboxes(ctx, acct.ID)
	if err == nil {
		for _, mb := range mbs {
			if mb.SpecialUse == store.SpecialJunk {
				return mb.Name
			}
		}
	}
	return "Junk"
}

// Sealer adds the next ARC set (RFC 8617) to a message forwarded in the
// name of domain; chain, authservID and results come from the verdict.
type Sealer interface {
	SealARC(ctx context.Context, domain string, msg []byte, chain, authservID, results string) ([]byte, error)
}

// sealed returns msg with an ARC set of domain on top when the message
// was checked on its way in; else, or when sealing fails (logged; the
// forward still goes), msg as it is.
func (t *Transaction) sealed(ctx context.Context, domain string, msg []byte) []byte {
	if t.verdict == nil || t.p.sealer == nil {
		return msg
	}
	set, err := t.p.sealer.SealARC(ctx, domain, msg, t.verdict.ARC, t.p.authservID, t.verdict.Results)
	if err != nil {
		t.p.log.Info("forward not sealed", "id", t.env.ID, "domain", domain, "err", err)
		return msg
	}
	return append(set, msg...)
}

// sealForwards gives the queued copies of alias forwards a body of their
// own with an ARC set of the alias's domain (vias[i] for d.Queue[i]).
func (t *Transaction) sealForwards(ctx context.Context, nb store.NewBlob, skip int64, d *store.Delivery, vias []string) error {
	if t.verdict == nil || t.p.sealer == nil {
		return nil
	}
	var raw []byte
	for i, via := range vias {
		if via == "" {
			continue
		}
		if raw == nil {
			var buf bytes.Buffer
			if err := copyFrom(&buf, nb.Body, skip); err != nil {
				return err
			}
			raw = buf.Bytes()
		}
		msg := t.sealed(ctx, via, raw)
		if len(msg) == len(raw) {
			continue
		}
		x, err := t.extraBody(msg, false)
		if err != nil {
			return err
		}
		d.Extra = append(d.Extra, x)
		d.Queue[i].Body, d.Queue[i].Skip = len(d.Extra), 0
	}
	return nil
}
