package imapd

import (
	"bytes"
	"io"
	"strings"

	"postern/internal/store"
)

// CATENATE (RFC 4469): APPEND builds a message from TEXT literals and the
// octets of messages (or their parts) named by IMAP URLs. The message is
// assembled in memory, bounded by the APPENDLIMIT, then stored as an
// appended one; a URL that names nothing the user may read fails the
// whole APPEND with NO [BADURL url].

// catPart is one part of CATENATE: a URL, or the header of a TEXT
// literal whose octets follow on the connection.
type catPart struct {
	url     string
	text    bool
	size    int64
	nonSync bool
	binary  bool // a literal8 (RFC 4469 §5 with RFC 3516)
}

// catenatePart reads the next part of "(" cat-part *(SP cat-part) ")";
// first reads the "(" before it, done reports the ")".
//
//	cat-part = text-literal / url ; text-literal = "TEXT" SP literal ; url = "URL" SP astring
func (p *parser) catenatePart(first bool) (part catPart, done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *parseError:
				err = e
			case ioError:
				err = e
			default:
				panic(r)
			}
		}
	}()
	if first {
		p.expect('(')
	} else {
		if p.peek() == ')' {
			p.next()
			return part, true, nil
		}
		p.sp()
	}
	switch strings.ToUpper(p.atom()) {
	case "URL":
		p.sp()
		part.url = p.astring()
		if len(part.url) > maxURLLen {
			p.fail("URL too long")
		}
	case "TEXT":
		p.sp()
		if p.peek() == '~' {
			p.next()
			part.binary = true
		}
		part.text = true
		part.size, part.nonSync = p.literalHeader()
	default:
		p.fail("expected URL or TEXT")
	}
	return part, false, nil
}

// maxCatenateParts bounds the parts of one message.
const maxCatenateParts = 256

// readCatenateMsg reads the parts of one CATENATE message and builds its
// body; total counts the octets of the whole APPEND. stop means the
// command ends with r.
func (s *session) readCatenateMsg(c *command, cur appendArgs, n int, total *int64) (pendingMsg, reply, bool) {
	if r, stop := s.checkAppendMsg(c, &cur, n, *total); stop {
		return pendingMsg{}, r, true
	}
	limit := s.srv.cfg.AppendLimit
	var buf bytes.Buffer
	for i := 0; ; i++ {
		part, done, err := s.p.catenatePart(i == 0)
		if err != nil {
			return pendingMsg{}, s.lineError(err), true
		}
		if done {
			break
		}
		if i >= maxCatenateParts {
			return pendingMsg{}, s.refuseCatPart(c, part, no("LIMIT", "too many CATENATE parts")), true
		}
		if part.text {
			if int64(buf.Len())+part.size > limit || *total+part.size > maxMultiAppendBytes {
				return pendingMsg{}, s.refuseCatPart(c, part, no("TOOBIG", "message exceeds APPENDLIMIT")), true
			}
			if !part.nonSync && s.continueReq() != nil {
				return pendingMsg{}, reply{}, true
			}
			if _, err := io.CopyN(&buf, s.br, part.size); err != nil {
				return pendingMsg{}, reply{}, true
			}
			cur.binary = cur.binary || part.binary
			*total += part.size
			continue
		}
		data, r := s.catenateURL(part.url)
		if r.status == "" && int64(buf.Len()+len(data)) > limit {
			r = no("TOOBIG", "message exceeds APPENDLIMIT")
		}
		if r.status != "" {
			return pendingMsg{}, s.abandonAppend(r), true
		}
		buf.Write(data)
		*total += int64(len(data))
	}
	body, meta, err := s.bodyOf(buf.Bytes())
	if err == nil && cur.binary {
		body, meta, err = s.encodeBinaryParts(body, meta)
	}
	if err != nil {
		s.log.Error("imap append: storing catenated body", "err", err)
		return pendingMsg{}, s.abandonAppend(no("SERVERBUG", "cannot store message")), true
	}
	return pendingMsg{args: cur, body: body, meta: meta}, reply{}, false
}

// refuseCatPart ends a CATENATE at a part that will not be read: a
// synchronising literal was never asked for and ends the line; a
// non-synchronising one is on its way and is skipped with the rest.
func (s *session) refuseCatPart(c *command, part catPart, r reply) reply {
	switch {
	case !part.text:
		return s.abandonAppend(r)
	case !part.nonSync:
		return r
	case part.size > s.srv.cfg.AppendLimit:
		s.tagged(c.tag, bad("TOOBIG", "message too large"))
		s.bye("protocol error")
		return reply{}
	}
	if _, err := io.CopyN(io.Discard, s.br, part.size); err != nil {
		return reply{}
	}
	return s.abandonAppend(r)
}

// catenateURL returns the octets a CATENATE URL names (RFC 4469 §5): a
// message or part in one of the user's mailboxes, or one a URLAUTH
// authorises this user to read.
func (s *session) catenateURL(raw string) ([]byte, reply) {
	badURL := no("BADURL "+urlRespText(raw), "cannot read the URL")
	u, err := parseIMAPURL(raw)
	if err != nil {
		return nil, badURL
	}
	var t urlTarget
	if u.access != "" {
		t, err = s.authorizedURL(u)
	} else {
		var owner store.Account
		owner, err = s.urlOwner(u)
		if err == nil && owner.ID != s.acct.ID {
			err = errURLTarget
		}
		if err == nil {
			t, err = s.openURL(u, owner)
		}
	}
	if err != nil {
		return nil, badURL
	}
	return t.content(), reply{}
}

// urlRespText makes a URL fit a response code (RFC 4469 §6: no "]", no
// line ends).
func urlRespText(u string) string {
	return strings.Map(func(r rune) rune {
		if r == ']' || r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, u)
}

// bodyOf stores b as a new body, parsed on its way in.
func (s *session) bodyOf(b []byte) (store.Body, store.MessageMeta, error) {
	bw, err := s.srv.cfg.Store.NewBody()
	if err != nil {
		return nil, store.MessageMeta{}, err
	}
	src := bytes.NewReader(b)
	dst := &stickyWriter{w: bw}
	meta, err := safeParse(s.srv.cfg.Parse, io.TeeReader(src, dst))
	io.Copy(dst, src) // a parser may stop before the end
	if err == nil {
		err = dst.err
	}
	if err != nil {
		bw.Abort()
		return nil, store.MessageMeta{}, err
	}
	body, err := bw.Finish()
	if err != nil {
		return nil, store.MessageMeta{}, err
	}
	return body, meta, nil
}
