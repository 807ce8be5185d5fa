package imapd

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxURLLen bounds an IMAP URL from a client (CATENATE, GENURLAUTH,
// URLFETCH): real ones are a few hundred bytes.
const maxURLLen = 4096

// imapURL is an IMAP URL naming one message or a part of it (RFC 5092
// imessagepart), as CATENATE (RFC 4469) and URLAUTH (RFC 4467) use it:
// absolute ("imap://user@host/...") or an absolute path ("/mailbox/...").
type imapURL struct {
	absolute    bool
	user, host  string // absolute URLs: the mailbox owner as written, and the host
	mailbox     string
	uidValidity uint32 // 0 when not given
	uid         uint32
	section     string // decoded enc-section, "" for the whole message
	partial     bool
	start       int64
	count       int64 // -1: to the end

	// URLAUTH (RFC 4467 §3): the expiry, the access identifier, and the
	// authorisation mechanism and verifier of an authorised URL.
	expire    time.Time
	access    string // "submit+USER", "user+USER", "authuser", "anonymous"; "" without URLAUTH
	mechanism string // upper case
	verifier  string
	// rump is the URL up to and including the access identifier: what the
	// verifier authenticates.
	rump string
}

var errBadURL = errors.New("bad IMAP URL")

// parseIMAPURL reads a URL of the imessagepart form:
//
//	["imap://" [enc-user "@"] host] "/" enc-mailbox [";UIDVALIDITY=" n]
//	"/;UID=" n ["/;SECTION=" enc-section] ["/;PARTIAL=" n ["." n]]
//	[[";EXPIRE=" date-time] ";URLAUTH=" access [":" mechanism ":" verifier]]
//
// Parameter names are case-insensitive. An "@" is accepted unencoded in
// user names: clients write addresses as they are.
func parseIMAPURL(s string) (imapURL, error) {
	var u imapURL
	if len(s) > maxURLLen || s == "" {
		return u, errBadURL
	}
	rest := s
	if len(rest) >= 7 && strings.EqualFold(rest[:7], "imap://") {
		u.absolute = true
		rest = rest[7:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return u, errBadURL
		}
		authority := rest[:slash]
		rest = rest[slash:]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			user := authority[:at]
			if i := indexFold(user, ";AUTH="); i >= 0 {
				user = user[:i]
			}
			var err error
			if u.user, err = url.PathUnescape(user); err != nil || u.user == "" {
				return u, errBadURL
			}
			authority = authority[at+1:]
		}
		// The port does not name the mail domain.
		if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
			authority = authority[:i]
		}
		if authority == "" {
			return u, errBadURL
		}
		u.host = strings.ToLower(authority)
	}
	if !strings.HasPrefix(rest, "/") {
		return u, errBadURL
	}
	rest = rest[1:]
	i := indexFold(rest, "/;UID=")
	if i <= 0 {
		return u, errBadURL
	}
	mbox := rest[:i]
	rest = rest[i+len("/;UID="):]
	if j := indexFold(mbox, ";UIDVALIDITY="); j >= 0 {
		v, err := strconv.ParseUint(mbox[j+len(";UIDVALIDITY="):], 10, 32)
		if err != nil || v == 0 {
			return u, errBadURL
		}
		u.uidValidity = uint32(v)
		mbox = mbox[:j]
	}
	if strings.ContainsAny(mbox, "?;") {
		return u, errBadURL // searches (RFC 5092 "?") do not name one message
	}
	var err error
	if u.mailbox, err = url.PathUnescape(mbox); err != nil || u.mailbox == "" {
		return u, errBadURL
	}
	u.mailbox = canonMailbox(u.mailbox)
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	uid, err := strconv.ParseUint(rest[:digits], 10, 32)
	if err != nil || uid == 0 {
		return u, errBadURL
	}
	u.uid = uint32(uid)
	rest = rest[digits:]
	if err := u.parseTail(s, rest); err != nil {
		return u, err
	}
	return u, nil
}

// parseTail reads what follows the UID: section, partial, and the URLAUTH
// parameters; whole is the URL for the rump.
func (u *imapURL) parseTail(whole, rest string) error {
	if hasPrefixFold(rest, "/;SECTION=") {
		rest = rest[len("/;SECTION="):]
		end := len(rest)
		for _, stop := range []string{"/;PARTIAL=", ";EXPIRE=", ";URLAUTH="} {
			if i := indexFold(rest, stop); i >= 0 && i < end {
				end = i
			}
		}
		sec, err := url.PathUnescape(rest[:end])
		if err != nil || sec == "" {
			return errBadURL
		}
		u.section, rest = sec, rest[end:]
	}
	if hasPrefixFold(rest, "/;PARTIAL=") {
		rest = rest[len("/;PARTIAL="):]
		end := len(rest)
		if i := strings.IndexByte(rest, ';'); i >= 0 {
			end = i
		}
		if err := u.parsePartial(rest[:end]); err != nil {
			return err
		}
		rest = rest[end:]
	}
	if hasPrefixFold(rest, ";EXPIRE=") {
		rest = rest[len(";EXPIRE="):]
		i := indexFold(rest, ";URLAUTH=")
		if i < 0 {
			return errBadURL // an expiry belongs to a URLAUTH
		}
		t, err := parseURLDateTime(rest[:i])
		if err != nil {
			return errBadURL
		}
		u.expire, rest = t, rest[i:]
	}
	if rest == "" {
		return nil
	}
	if !hasPrefixFold(rest, ";URLAUTH=") {
		return errBadURL
	}
	authStart := len(whole) - len(rest)
	rest = rest[len(";URLAUTH="):]
	access := rest
	// The verifier is ":" mechanism ":" hex digits, neither with a colon.
	if last := strings.LastIndexByte(rest, ':'); last >= 0 {
		mech := strings.LastIndexByte(rest[:last], ':')
		if mech < 0 {
			return errBadURL
		}
		u.mechanism = strings.ToUpper(rest[mech+1 : last])
		u.verifier = strings.ToLower(rest[last+1:])
		access = rest[:mech]
		if u.mechanism == "" || len(u.verifier) < 32 || !isHex(u.verifier) {
			return errBadURL
		}
	}
	u.rump = whole[:authStart+len(";URLAUTH=")+len(access)]
	switch lower := strings.ToLower(access); {
	case lower == "authuser", lower == "anonymous":
		u.access = lower
	case strings.HasPrefix(lower, "user+"), strings.HasPrefix(lower, "submit+"):
		plus := strings.IndexByte(access, '+')
		name, err := url.PathUnescape(access[plus+1:])
		if err != nil || name == "" {
			return errBadURL
		}
		u.access = lower[:plus+1] + name
	default:
		return errBadURL
	}
	return nil
}

// partial-range = number ["." nz-number]
func (u *imapURL) parsePartial(s string) error {
	off, length, dot := strings.Cut(s, ".")
	start, err := strconv.ParseUint(off, 10, 32)
	if err != nil {
		return errBadURL
	}
	u.partial, u.start, u.count = true, int64(start), -1
	if dot {
		n, err := strconv.ParseUint(length, 10, 32)
		if err != nil || n == 0 {
			return errBadURL
		}
		u.count = int64(n)
	}
	return nil
}

// parseURLDateTime reads the RFC 3339 date-time of ";EXPIRE=" (RFC 4467
// §3), percent-decoded first.
func parseURLDateTime(s string) (time.Time, error) {
	dec, err := url.PathUnescape(s)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, dec)
}

// accessUser returns the user a "user+" or "submit+" access names.
func (u *imapURL) accessUser() string {
	_, name, _ := strings.Cut(u.access, "+")
	return name
}

func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
