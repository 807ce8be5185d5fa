package imapd

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// URLAUTH (RFC 4467) with URLAUTH=BINARY (RFC 5524): the owner of a
// mailbox authorises a URL to one of its messages with GENURLAUTH; whoever
// the URL's access identifier admits reads it with URLFETCH (a submission
// server with BURL, another user, anyone). The "INTERNAL" verifier is
// HMAC-SHA256 of the URL's rump under the mailbox's secret (kept by the
// store), so RESETKEY revokes every URL of a mailbox at once.

// urlArg is one URL of GENURLAUTH (with its mechanism) or URLFETCH (with
// the RFC 5524 fetch parameters when given in parentheses).
type urlArg struct {
	url      string
	mech     string   // GENURLAUTH
	params   []string // URLFETCH: BODY, BINARY, BODYPARTSTRUCTURE, upper case
	extended bool     // URLFETCH "(" url *(SP param) ")"
}

// maxURLArgs bounds the URLs of one command.
const maxURLArgs = 64

// RFC 4467 §9: genurlauth = "GENURLAUTH" 1*(SP url-rump SP uauth-mechanism)
func parseGenURLAuth(p *parser, c *command) {
	for len(c.urls) == 0 || !p.atEOL() {
		if len(c.urls) >= maxURLArgs {
			p.fail("too many URLs")
		}
		p.sp()
		a := urlArg{url: p.astring()}
		p.sp()
		a.mech = strings.ToUpper(p.atom())
		c.urls = append(c.urls, a)
	}
}

// RFC 4467 §9: urlfetch = "URLFETCH" 1*(SP url); RFC 5524 §3: or
// "(" url *(SP ("BODY" / "BINARY" / "BODYPARTSTRUCTURE")) ")".
func parseURLFetch(p *parser, c *command) {
	for len(c.urls) == 0 || !p.atEOL() {
		if len(c.urls) >= maxURLArgs {
			p.fail("too many URLs")
		}
		p.sp()
		if p.peek() != '(' {
			c.urls = append(c.urls, urlArg{url: p.astring()})
			continue
		}
		p.next()
		a := urlArg{url: p.astring(), extended: true}
		for p.peek() != ')' {
			p.sp()
			param := strings.ToUpper(p.atom())
			switch {
			case param != "BODY" && param != "BINARY" && param != "BODYPARTSTRUCTURE":
				p.fail("unknown URLFETCH parameter %s", param)
			case has(a.params, param): // RFC 5524 §3.1: at most once each
				p.fail("URLFETCH parameter %s given twice", param)
			}
			a.params = append(a.params, param)
		}
		p.next()
		switch {
		case has(a.params, "BODY") && has(a.params, "BINARY"):
			p.fail("URLFETCH takes BODY or BINARY, not both") // RFC 5524 §3.1
		case len(a.params) == 0:
			a.params = []string{"BODY"} // the data as the unextended form gives it
		}
		c.urls = append(c.urls, a)
	}
}

// RFC 4467 §9: resetkey = "RESETKEY" [SP mailbox *(SP uauth-mechanism)]
func parseResetKey(p *parser, c *command) {
	if p.atEOL() {
		return
	}
	p.sp()
	c.mailbox = p.mailbox()
	for !p.atEOL() {
		if len(c.strs) >= maxListItems {
			p.fail("too many mechanisms")
		}
		p.sp()
		c.strs = append(c.strs, strings.ToUpper(p.atom()))
	}
}

// urlVerifier is the "INTERNAL" mechanism's verifier of a URL rump.
func urlVerifier(key []byte, rump string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(rump))
	return hex.EncodeToString(mac.Sum(nil))
}

// cmdGenURLAuth implements GENURLAUTH (RFC 4467 §7): only the owner of
// the mailbox authorises URLs to its messages, and a URL that fails a
// check gets a tagged BAD, as the RFC requires.
func (s *session) cmdGenURLAuth(c *command) reply {
	var out []string
	for _, a := range c.urls {
		if a.mech != "INTERNAL" {
			return bad("", "unknown URLAUTH mechanism "+a.mech)
		}
		u, err := parseIMAPURL(a.url)
		if err != nil || !u.absolute || u.access == "" || u.mechanism != "" {
			return bad("", "not a URLAUTH rump URL: "+urlRespText(a.url))
		}
		owner, err := s.urlOwner(u)
		if err != nil || owner.ID != s.acct.ID {
			return bad("", "only the mailbox owner can authorise its URLs")
		}
		if _, err := s.openURL(u, owner); err != nil {
			return bad("", "the URL names no message: "+urlRespText(a.url))
		}
		key, r := s.urlAuthKey(u.mailbox)
		if r.status != "" {
			return r
		}
		out = append(out, u.rump+":INTERNAL:"+urlVerifier(key, u.rump))
		s.log.Info("imap urlauth granted", "mailbox", u.mailbox, "uid", u.uid, "access", u.access)
	}
	s.w.str("* GENURLAUTH")
	for _, u := range out {
		s.w.byte(' ')
		s.w.string(u)
	}
	s.w.crlf()
	return ok("", "GENURLAUTH completed")
}

// urlAuthKey returns the secret of one of the user's mailboxes, creating
// it at its first use.
func (s *session) urlAuthKey(name string) ([]byte, reply) {
	st := s.srv.cfg.Store
	mb, err := st.Mailbox(s.ctx, s.acct.ID, name)
	if err != nil {
		return nil, s.mapStoreErr(err, "GENURLAUTH")
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	key, err := st.URLAuthKey(s.ctx, s.acct.ID, mb.ID, fresh)
	if err != nil {
		return nil, s.mapStoreErr(err, "GENURLAUTH")
	}
	return key, reply{}
}

// cmdResetKey implements RESETKEY (RFC 4467 §6.2): without a mailbox,
// the keys of all the user's mailboxes.
func (s *session) cmdResetKey(c *command) reply {
	for _, m := range c.strs {
		if m != "INTERNAL" {
			return bad("", "unknown URLAUTH mechanism "+m)
		}
	}
	st := s.srv.cfg.Store
	var mailboxID int64
	if c.mailbox != "" {
		mb, err := st.Mailbox(s.ctx, s.acct.ID, c.mailbox)
		if err != nil {
			return s.mapStoreErr(err, "RESETKEY")
		}
		mailboxID = mb.ID
	}
	if err := st.ResetURLAuthKeys(s.ctx, s.acct.ID, mailboxID); err != nil {
		return s.mapStoreErr(err, "RESETKEY")
	}
	s.log.Info("imap urlauth keys reset", "mailbox", c.mailbox)
	return ok(s.urlMech(), "RESETKEY completed")
}

// urlMech is the URLMECH response code (RFC 4467 §8) of RESETKEY and
// SELECT, given only where the session is protected from snooping, as
// §8 asks of servers: "" on a plaintext connection.
func (s *session) urlMech() string {
	if !s.tls {
		return ""
	}
	return "URLMECH INTERNAL"
}

// errURLAccess: the URL's access identifier does not admit this session.
var errURLAccess = errors.New("URLAUTH access denied")

// authorizedURL checks a URLAUTH-authorised URL (RFC 4467 §3, §7) for this
// session and opens what it names.
func (s *session) authorizedURL(u imapURL) (urlTarget, error) {
	if !u.absolute || u.mechanism != "INTERNAL" {
		return urlTarget{}, errURLAccess
	}
	if !u.expire.IsZero() && !time.Now().Before(u.expire) {
		return urlTarget{}, errURLAccess
	}
	switch {
	case u.access == "anonymous", u.access == "authuser":
		// A logged-in session is an authenticated user of this server.
	case strings.HasPrefix(u.access, "user+"):
		if !s.isUser(u.accessUser(), u.host) {
			return urlTarget{}, errURLAccess
		}
	default:
		// submit+: only a submission server acting for the user may
		// fetch, and no IMAP session is one.
		return urlTarget{}, errURLAccess
	}
	owner, err := s.urlOwner(u)
	if err != nil {
		return urlTarget{}, err
	}
	st := s.srv.cfg.Store
	mb, err := st.Mailbox(s.ctx, owner.ID, u.mailbox)
	if err != nil {
		return urlTarget{}, errURLTarget
	}
	key, err := st.URLAuthKey(s.ctx, owner.ID, mb.ID, nil)
	if err != nil {
		return urlTarget{}, errURLAccess
	}
	if !hmac.Equal([]byte(urlVerifier(key, u.rump)), []byte(u.verifier)) {
		return urlTarget{}, errURLAccess
	}
	if owner.ID != s.acct.ID {
		// Another account's mail read on the strength of a URL: worth a
		// line an administrator can find.
		s.log.Info("imap urlauth fetch", "owner", owner.Address, "mailbox", u.mailbox, "uid", u.uid, "access", u.access)
	}
	return s.openURL(u, owner)
}

// isUser tells whether name (an address, or a local part at host) is the
// session's user.
func (s *session) isUser(name, host string) bool {
	name = strings.ToLower(name)
	if !strings.Contains(name, "@") {
		name += "@" + host
	}
	return name == s.acct.Address
}

// cmdURLFetch implements URLFETCH (RFC 4467 §6.3) with the parameters of
// URLAUTH=BINARY (RFC 5524 §3). A URL that does not resolve, or that this
// user may not read, gets NIL; the command itself succeeds.
func (s *session) cmdURLFetch(c *command) reply {
	s.w.str("* URLFETCH")
	for _, a := range c.urls {
		s.w.byte(' ')
		s.w.string(a.url)
		s.w.byte(' ')
		var t urlTarget
		u, err := parseIMAPURL(a.url)
		if err == nil {
			t, err = s.authorizedURL(u)
		}
		switch {
		case err != nil:
			s.w.str("NIL")
		case !a.extended:
			s.w.literal(t.content())
		default:
			s.writeURLFetchData(&t, a.params)
		}
	}
	s.w.crlf()
	return ok("", "URLFETCH completed")
}

// writeURLFetchData writes the RFC 5524 §3 metadata: the part's
// structure, then its octets as they are (BODY) or decoded (BINARY). With
// BINARY the structure describes the decoded octets (their sizes and
// lines) while naming the encodings the parts had, which a submission
// server needs to encode them again for a peer without BINARYMIME.
//
// The elements share one parenthesised list, as Dovecot (the one
// deployed implementation) sends them and imaptest's urlauth-binary
// expects, where RFC 5524 §5's grammar puts each in its own parentheses.
func (s *session) writeURLFetchData(t *urlTarget, params []string) {
	w := &s.w
	var decoded []byte
	var decodeErr error
	if has(params, "BINARY") {
		decoded, decodeErr = t.binary()
	}
	w.byte('(')
	sep := ""
	if has(params, "BODYPARTSTRUCTURE") {
		w.str("BODYPARTSTRUCTURE ")
		switch {
		case t.sec.spec != "":
			w.str("NIL") // a header or text section is no MIME part
		case has(params, "BINARY") && decodeErr == nil:
			w.bodyStructure(t.binaryStructure(decoded), true, 0)
		default:
			w.bodyStructure(t.part(), true, 0)
		}
		sep = " "
	}
	if has(params, "BODY") {
		w.str(sep + "BODY ")
		w.literal(t.content())
		sep = " "
	}
	if has(params, "BINARY") {
		w.str(sep + "BINARY ")
		switch {
		case decodeErr != nil:
			w.str("NIL")
		default:
			if bytes.IndexByte(decoded, 0) >= 0 {
				w.byte('~') // literal8, RFC 3516 §4.2
			}
			w.literal(decoded)
		}
	}
	w.byte(')')
}
