package dmarcrpt

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Destination is one mailto: address of a rua tag.
type Destination struct {
	Address string
	// MaxSize is the largest report the address takes, in bytes (the
	// "!size" suffix, RFC 7489 §6.2); 0 when the URI sets none.
	MaxSize int64
}

// Limits on what a DMARC record can make us do (RFC 7489 §6.2 lets a
// receiver cap the URIs; it must honour at least two).
const (
	maxURILength    = 1024
	maxAddress      = 254
	maxDestinations = 5
)

// errNotMailto marks a URI of another scheme: reports go by mail only.
var errNotMailto = errors.New("not a mailto: URI")

// ParseURI reads one rua URI, "mailto:addr[?...][!size[k|m|g|t]]". The
// first "!" ends the URI: one inside it must be %-encoded.
func ParseURI(uri string) (Destination, error) {
	var d Destination
	uri = strings.TrimSpace(uri)
	if len(uri) > maxURILength {
		return d, errors.New("URI too long")
	}
	target, size, hasSize := strings.Cut(uri, "!")
	if hasSize {
		n, err := parseSize(size)
		if err != nil {
			return d, err
		}
		d.MaxSize = n
	}
	scheme, rest, ok := strings.Cut(target, ":")
	if !ok || !strings.EqualFold(scheme, "mailto") {
		return d, errNotMailto
	}
	rest, _, _ = strings.Cut(rest, "?") // RFC 6068 header fields: not ours to honour
	addr, err := url.PathUnescape(rest)
	if err != nil {
		return d, fmt.Errorf("bad %%-encoding in %q", rest)
	}
	if err := checkAddress(addr); err != nil {
		return d, err
	}
	local, domain, _ := strings.Cut(addr, "@")
	d.Address = local + "@" + strings.ToLower(domain)
	return d, nil
}

// parseSize reads "10m": a number of bytes, or of k, m, g or t units
// (powers of two, RFC 7489 §6.2).
func parseSize(s string) (int64, error) {
	shift := 0
	if s != "" {
		switch strings.ToLower(s[len(s)-1:]) {
		case "k":
			shift = 10
		case "m":
			shift = 20
		case "g":
			shift = 30
		case "t":
			shift = 40
		}
	}
	if shift > 0 {
		s = s[:len(s)-1]
	}
	if s == "" || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad size limit %q", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)>>shift {
		return 0, fmt.Errorf("bad size limit %q", s)
	}
	return n << shift, nil
}

// checkAddress accepts a plain addr-spec with a host name: what our
// queue can send to. Quoted local parts and address literals are not
// worth the risk in an address taken from DNS.
func checkAddress(addr string) error {
	if len(addr) > maxAddress {
		return errors.New("address too long")
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return fmt.Errorf("bad address %q", addr)
	}
	for _, r := range local {
		if r <= ' ' || r > '~' || strings.ContainsRune(`"(),:;<>@[\]`, r) {
			return fmt.Errorf("bad address %q", addr)
		}
	}
	if !isHostname(domain) {
		return fmt.Errorf("bad domain in %q", addr)
	}
	return nil
}

func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ParseRUA reads the URIs of a rua tag: the mailto: destinations, at
// most maxDestinations, and why each other URI is left out.
func ParseRUA(uris []string) (dests []Destination, ignored []string) {
	seen := map[string]bool{}
	for _, u := range uris {
		if strings.TrimSpace(u) == "" {
			continue
		}
		d, err := ParseURI(u)
		switch {
		case err != nil:
			ignored = append(ignored, fmt.Sprintf("%.100q: %v", u, err))
		case seen[strings.ToLower(d.Address)]:
		case len(dests) == maxDestinations:
			ignored = append(ignored, fmt.Sprintf("%.100q: more than %d addresses", u, maxDestinations))
		default:
			seen[strings.ToLower(d.Address)] = true
			dests = append(dests, d)
		}
	}
	return dests, ignored
}
