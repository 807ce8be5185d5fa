package deliver

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Limits of RFC 5321 §4.5.3.1.
const (
	maxLocalPart = 64
	maxDomain    = 255
	maxLabel     = 63
)

// Address errors. ErrRouting marks syntax that only makes sense for
// relaying (percent hack, bang paths, quoted "@"): it is refused as a relay
// attempt, never interpreted.
var (
	ErrAddressSyntax = errors.New("bad address syntax")
	ErrRouting       = errors.New("routing syntax in address")
)

// Address is a parsed mailbox: the local part as the sender wrote it (minus
// quotes that were not needed) and the domain in lower case.
type Address struct {
	Local  string
	Domain string
}

func (a Address) String() string { return a.Local + "@" + a.Domain }

// ParseAddress parses local@domain as found in SMTP paths and in the
// account database. The domain must be a host name (an address literal such
// as [127.0.0.1] is returned with IsLiteral so callers can refuse it).
func ParseAddress(s string) (Address, error) {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, ErrAddressSyntax
	}
	local, domain := s[:at], s[at+1:]
	local, err := parseLocal(local)
	if err != nil {
		return Address{}, err
	}
	if strings.HasPrefix(domain, "[") {
		if !strings.HasSuffix(domain, "]") || len(domain) > maxDomain {
			return Address{}, ErrAddressSyntax
		}
		return Address{Local: local, Domain: domain}, nil
	}
	if err := checkDomain(domain); err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: strings.ToLower(domain)}, nil
}

// IsLiteral reports whether the domain is an address literal (RFC 5321 §4.1.3).
func (a Address) IsLiteral() bool { return strings.HasPrefix(a.Domain, "[") }

func parseLocal(local string) (string, error) {
	if len(local) > maxLocalPart || !utf8.ValidString(local) {
		return "", ErrAddressSyntax
	}
	if strings.HasPrefix(local, `"`) {
		unq, err := unquote(local)
		if err != nil {
			return "", err
		}
		local = unq
		if local == "" {
			return "", ErrAddressSyntax
		}
	} else if !isDotAtom(local) {
		return "", ErrAddressSyntax
	}
	// RFC 5321 §3.6.1 and Appendix C: %-hacks, bang paths and embedded "@"
	// route mail through us; a closed MTA refuses them.
	if strings.ContainsAny(local, "%!@") {
		return "", ErrRouting
	}
	if strings.ContainsAny(local, " \t\"\\") {
		return "", ErrAddressSyntax
	}
	return local, nil
}

// unquote decodes an RFC 5321 Quoted-string.
func unquote(q string) (string, error) {
	if len(q) < 2 || q[len(q)-1] != '"' {
		return "", ErrAddressSyntax
	}
	var b strings.Builder
	body := q[1 : len(q)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			i++
			if i == len(body) {
				return "", ErrAddressSyntax
			}
			b.WriteByte(body[i])
		case c == '"' || c < 0x20 || c == 0x7f:
			return "", ErrAddressSyntax
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isAtext(r rune) bool {
	if r >= 0x80 {
		return true // RFC 6531 §3.3: UTF-8 in local parts with SMTPUTF8
	}
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r != '.' && !isAtext(r) {
			return false
		}
	}
	return true
}

// checkDomain accepts LDH host names (and U-labels); a trailing dot, empty
// labels, or characters outside letters, digits and hyphens are refused.
func checkDomain(d string) error {
	if d == "" || len(d) > maxDomain || !utf8.ValidString(d) {
		return ErrAddressSyntax
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return ErrAddressSyntax
		}
		for _, r := range label {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r >= 0x80
			if !ok {
				return ErrAddressSyntax
			}
		}
	}
	return nil
}

// Normalize returns the canonical lower-case form under which accounts and
// aliases are stored.
func Normalize(s string) (string, error) {
	a, err := ParseAddress(s)
	if err != nil {
		return "", err
	}
	if a.IsLiteral() {
		return "", ErrAddressSyntax
	}
	return strings.ToLower(a.Local) + "@" + a.Domain, nil
}

// NormalizeDomain returns the lower-case form of a domain name, or
// ErrAddressSyntax when it is not a host name.
func NormalizeDomain(d string) (string, error) {
	if err := checkDomain(d); err != nil {
		return "", err
	}
	return strings.ToLower(d), nil
}
