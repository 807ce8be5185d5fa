package authcheck

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of a DKIM-Signature field: far above what signers write (an
// RSA-8192 b= is 1,368 characters; oversigning doubles an h= of 20
// names), low enough that a hostile field costs little.
const (
	maxSignatureFieldLen = 16 << 10
	maxSignatureTags     = 64
	maxSignedFieldNames  = 256
	// futureSkew is how far ahead of our clock a signature's t= may be:
	// clocks drift, but a signature made hours from now is not one
	// (RFC 6376 §3.5 lets verifiers ignore those).
	futureSkew = 15 * time.Minute
)

// dkimError is why a signature did not pass: its result (RFC 8601
// §2.7.1: fail, neutral, temperror, permerror) and a reason for the
// Authentication-Results field.
type dkimError struct {
	result, reason string
}

func (e *dkimError) Error() string { return e.result + ": " + e.reason }

func permerror(format string, args ...any) *dkimError {
	return &dkimError{"permerror", fmt.Sprintf(format, args...)}
}

func failure(reason string) *dkimError { return &dkimError{"fail", reason} }

// dkimSignature is a DKIM-Signature field, parsed and checked (RFC 6376
// §3.5, §6.1.1).
type dkimSignature struct {
	field     []byte   // as received
	domain    string   // d=, lower case
	selector  string   // s=
	idDomain  string   // the domain of i=, lower case ("" without i=)
	algorithm string   // a=: rsa-sha256 or ed25519-sha256
	keyType   string   // rsa or ed25519
	headers   []string // h=
	// relaxedHeader and relaxedBody are c=.
	relaxedHeader, relaxedBody bool
	length                     int64 // l=, -1 without
	bodyHash, signature        []byte
}

// parseSignature reads a DKIM-Signature field. The signature it returns
// has the domain and selector whenever they could be read, error or not,
// for the results.
func parseSignature(raw []byte, now time.Time) (*dkimSignature, *dkimError) {
	sig := &dkimSignature{field: raw, length: -1}
	if len(raw) > maxSignatureFieldLen {
		return sig, permerror("signature field over %d bytes", maxSignatureFieldLen)
	}
	value := field{raw: raw}.value()
	if strings.Count(value, ";") > maxSignatureTags {
		return sig, permerror("signature with over %d tags", maxSignatureTags)
	}
	tags, err := tagList(value)
	if err != nil {
		sig.domain, sig.selector = strings.ToLower(tagValue(value, "d")), tagValue(value, "s")
		return sig, permerror("signature syntax error: %v", err)
	}
	sig.domain, sig.selector = strings.ToLower(tags["d"]), tags["s"]
	if v := tags["v"]; v != "1" {
		return sig, permerror("signature version %q", v)
	}
	for _, t := range []string{"a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			return sig, permerror("signature missing required tag %s=", t)
		}
	}
	if !validDomainName(sig.domain) {
		return sig, permerror("malformed d=")
	}
	if !validDomainName(sig.selector) {
		return sig, permerror("malformed s=")
	}
	if e := sig.readIdentity(tags); e != nil {
		return sig, e
	}
	if e := sig.readHeaders(tags["h"]); e != nil {
		return sig, e
	}
	if e := checkTimes(tags, now); e != nil {
		return sig, e
	}
	if e := sig.readMethod(tags); e != nil {
		return sig, e
	}
	if l, ok := tags["l"]; ok {
		// RFC 6376 §3.5: 1*76DIGIT; more than int64 holds is no body.
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || !digits(l, 76) {
			return sig, permerror("malformed l=")
		}
		sig.length = n
	}
	if sig.bodyHash, err = base64.StdEncoding.DecodeString(tags["bh"]); err != nil {
		return sig, permerror("malformed bh=")
	}
	if sig.signature, err = base64.StdEncoding.DecodeString(tags["b"]); err != nil {
		return sig, permerror("malformed b=")
	}
	return sig, nil
}

// readIdentity checks i=: an address whose domain is d= or a subdomain
// of it (RFC 6376 §3.5, §6.1.1).
func (sig *dkimSignature) readIdentity(tags map[string]string) *dkimError {
	i, ok := tags["i"]
	if !ok {
		return nil
	}
	at := strings.LastIndexByte(i, '@')
	if at < 0 {
		return permerror("malformed i=")
	}
	sig.idDomain = strings.ToLower(i[at+1:])
	if sig.idDomain != sig.domain && !strings.HasSuffix(sig.idDomain, "."+sig.domain) {
		return permerror("i= domain not within d=")
	}
	return nil
}

// readHeaders reads h=, which must name From (RFC 6376 §5.4.1, §6.1.1).
func (sig *dkimSignature) readHeaders(h string) *dkimError {
	if strings.Count(h, ":") >= maxSignedFieldNames {
		return permerror("h= names over %d fields", maxSignedFieldNames)
	}
	sig.headers = strings.Split(h, ":")
	from := false
	for _, name := range sig.headers {
		if name == "" {
			return permerror("malformed h=")
		}
		from = from || strings.EqualFold(name, "From")
	}
	if !from {
		return permerror("From field not signed")
	}
	return nil
}

// readMethod reads a=, c= and q=: the algorithms we verify (RFC 8301
// §3.1 refuses rsa-sha1), the canonicalizations, the DNS query method.
func (sig *dkimSignature) readMethod(tags map[string]string) *dkimError {
	sig.algorithm = tags["a"]
	switch sig.algorithm {
	case "rsa-sha256":
		sig.keyType = "rsa"
	case "ed25519-sha256": // RFC 8463
		sig.keyType = "ed25519"
	case "rsa-sha1":
		return permerror("rsa-sha1 is refused (RFC 8301)")
	default:
		return permerror("algorithm %q not supported", sig.algorithm)
	}
	header, body, slash := strings.Cut(tags["c"], "/")
	var ok1, ok2 bool
	sig.relaxedHeader, ok1 = canonicalization(header)
	sig.relaxedBody, ok2 = canonicalization(body)
	if !ok1 || !ok2 || slash && body == "" {
		return permerror("canonicalization %q not supported", tags["c"])
	}
	if q, ok := tags["q"]; ok && !contains(strings.Split(q, ":"), "dns/txt") {
		return permerror("query method %q not supported", q)
	}
	return nil
}

// canonicalization reads one half of c=: relaxed or not, and whether it
// is known ("" is simple, the default).
func canonicalization(s string) (relaxed, ok bool) {
	switch s {
	case "", "simple":
		return false, true
	case "relaxed":
		return true, true
	}
	return false, false
}

// checkTimes applies t= and x= (RFC 6376 §3.5): an expired signature
// fails; one from the future beyond futureSkew, or expiring before it
// was made, is not a signature.
func checkTimes(tags map[string]string, now time.Time) *dkimError {
	var signed, expires int64 = -1, -1
	if t, ok := tags["t"]; ok {
		if !digits(t, 12) {
			return permerror("malformed t=")
		}
		signed, _ = strconv.ParseInt(t, 10, 64)
		if time.Unix(signed, 0).After(now.Add(futureSkew)) {
			return permerror("signature timestamp in the future")
		}
	}
	if x, ok := tags["x"]; ok {
		if !digits(x, 12) {
			return permerror("malformed x=")
		}
		expires, _ = strconv.ParseInt(x, 10, 64)
		if signed >= 0 && expires <= signed {
			return permerror("x= not after t=")
		}
		if now.After(time.Unix(expires, 0)) {
			return failure("signature expired")
		}
	}
	return nil
}

// digits tells whether s is 1 to max decimal digits.
func digits(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validDomainName tells whether s is a name DKIM may look up: labels of
// letters, digits, hyphens (and underscores, which DNS allows and some
// selectors carry), at most 63 bytes each and 253 in all (RFC 6376 §3.5:
// d= and s= are sub-domains, an IDN as A-labels).
func validDomainName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
				return false
			}
		}
	}
	return true
}

// tagValue returns a tag of a DKIM-style tag list, whitespace removed,
// when the list as a whole does not parse.
func tagValue(list, tag string) string {
	for _, part := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
