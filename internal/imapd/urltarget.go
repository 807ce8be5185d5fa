package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	"postern/internal/message"
	"postern/internal/store"
)

// urlTarget is the message part an IMAP URL names, read from the store.
type urlTarget struct {
	raw  []byte
	root *message.Part
	sec  section
	url  imapURL
}

// errURLTarget: the URL names no message or part the session may read.
var errURLTarget = errors.New("URL names nothing readable")

// urlOwner returns the account that owns an absolute URL's mailbox: the
// user written in the URL, completed by the URL's host when it is a bare
// local part. A path-only URL is in the session's account.
func (s *session) urlOwner(u imapURL) (store.Account, error) {
	if !u.absolute || u.user == "" {
		if u.absolute {
			return store.Account{}, errURLTarget
		}
		return s.acct, nil
	}
	addr := strings.ToLower(u.user)
	if !strings.Contains(addr, "@") {
		addr += "@" + u.host
	}
	if addr == s.acct.Address {
		return s.acct, nil
	}
	a, err := s.srv.cfg.Store.Account(s.ctx, addr)
	if err != nil {
		return store.Account{}, errURLTarget
	}
	return a, nil
}

// openURL reads the message an IMAP URL names in owner's mailbox and
// checks that its section exists.
func (s *session) openURL(u imapURL, owner store.Account) (urlTarget, error) {
	t := urlTarget{url: u}
	sec, err := parseURLSection(u.section)
	if err != nil {
		return t, errURLTarget
	}
	t.sec = sec
	st := s.srv.cfg.Store
	mb, err := st.Mailbox(s.ctx, owner.ID, u.mailbox)
	if err != nil {
		return t, errURLTarget
	}
	if u.uidValidity != 0 && u.uidValidity != mb.UIDValidity {
		return t, errURLTarget
	}
	msgs, err := st.Messages(s.ctx, mb.ID, u.uid, u.uid)
	if err != nil || len(msgs) != 1 {
		return t, errURLTarget
	}
	m := msgs[0]
	rc, err := st.OpenBlob(s.ctx, m.BlobID)
	if err != nil {
		s.log.Warn("imap url: reading message", "err", err)
		return t, errURLTarget
	}
	t.raw, err = io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return t, errURLTarget
	}
	if root, err := message.UnmarshalBody(m.BodyStructure); err == nil {
		t.root = root
	} else if p, err := message.Parse(bytes.NewReader(t.raw), message.DefaultLimits()); err == nil {
		t.root = p.Body
	} else {
		return t, errURLTarget
	}
	if t.part() == nil {
		return t, errURLTarget
	}
	return t, nil
}

// part returns the MIME part the section names (the root without one), or
// nil when the message has no such part.
func (t *urlTarget) part() *message.Part {
	if len(t.sec.part) == 0 {
		return t.root
	}
	p := t.root.Find(t.sec.part)
	if p != nil && len(t.sec.part) > 0 && t.sec.spec != "" && t.sec.spec != "MIME" && p.Message == nil {
		return nil // HEADER or TEXT of a part that is no message
	}
	return p
}

// content returns the section's octets as BODY[section]<partial> would.
func (t *urlTarget) content() []byte {
	data := t.raw
	if t.sec.spec != "" || len(t.sec.part) > 0 {
		data = sectionBytes(t.raw, t.root, t.sec)
	}
	return t.clipPartial(data)
}

func (t *urlTarget) clipPartial(data []byte) []byte {
	if !t.url.partial {
		return data
	}
	count := t.url.count
	if count < 0 {
		count = int64(len(data))
	}
	return partial(data, t.url.start, count)
}

// parseURLSection reads a URL's decoded enc-section with the FETCH section
// grammar (RFC 5092 §3: section-text as in RFC 3501).
func parseURLSection(s string) (sec section, err error) {
	if s == "" {
		return sec, nil
	}
	p := newParser(bufio.NewReader(strings.NewReader(s+"]")), nil)
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case *parseError, ioError:
				err = errBadURL
			default:
				panic(r)
			}
		}
	}()
	sec = parseSection(p)
	if p.next() != ']' || p.r.Buffered() != 0 {
		return sec, errBadURL
	}
	return sec, nil
}
