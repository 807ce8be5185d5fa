// Package mtasts is the sending side of SMTP MTA Strict Transport Security
// (RFC 8461): it finds a recipient domain's policy (the _mta-sts TXT
// record, then the policy file over HTTPS), keeps it in a durable cache for
// its max_age, and says which MX hosts a policy allows.
package mtasts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Mode is a policy's mode (RFC 8461 §5).
type Mode string

// The policy modes.
const (
	Enforce Mode = "enforce"
	Testing Mode = "testing"
	None    Mode = "none"
)

// Policy is a parsed policy file (RFC 8461 §3.2).
type Policy struct {
	Mode Mode
	// MX are the allowed MX host patterns, lower case; "*.example.com"
	// matches one label in place of the star.
	MX []string
	// MaxAge is how long the policy may be cached, in seconds.
	MaxAge int64
}

// Limits on a policy file: RFC 8461 sets none, a real policy is a few
// hundred bytes.
const (
	MaxPolicySize = 64 << 10
	maxPolicyMX   = 100
	// maxMaxAge is RFC 8461 §3.2's upper bound on max_age (about a year).
	maxMaxAge = 31557600
)

// ParsePolicy parses a policy file. Unknown keys are ignored (§3.2: the
// format is extensible); a missing or bad version, mode or max_age, or no
// mx in a mode other than none, is an error.
func ParsePolicy(body []byte) (Policy, error) {
	var p Policy
	if len(body) > MaxPolicySize {
		return p, errors.New("policy too large")
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return p, fmt.Errorf("policy line without a colon: %q", clip(line))
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		if key != "mx" && seen[key] {
			continue // §3.2: only the first occurrence of a key counts
		}
		seen[key] = true
		switch key {
		case "version":
			if value != "STSv1" {
				return p, fmt.Errorf("policy version %q is not STSv1", clip(value))
			}
		case "mode":
			switch Mode(value) {
			case Enforce, Testing, None:
				p.Mode = Mode(value)
			default:
				return p, fmt.Errorf("policy mode %q unknown", clip(value))
			}
		case "max_age":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || len(value) > 10 {
				return p, fmt.Errorf("policy max_age %q is not a number of seconds", clip(value))
			}
			p.MaxAge = min(n, maxMaxAge)
		case "mx":
			if len(p.MX) >= maxPolicyMX {
				return p, errors.New("policy has too many mx lines")
			}
			pat := strings.TrimSuffix(strings.ToLower(value), ".")
			if !validPattern(pat) {
				return p, fmt.Errorf("policy mx %q is not a host name pattern", clip(value))
			}
			p.MX = append(p.MX, pat)
		}
	}
	switch {
	case !seen["version"]:
		return p, errors.New("policy has no version")
	case p.Mode == "":
		return p, errors.New("policy has no mode")
	case !seen["max_age"]:
		return p, errors.New("policy has no max_age")
	case p.Mode != None && len(p.MX) == 0:
		return p, errors.New("policy has no mx")
	}
	return p, nil
}

func validPattern(p string) bool {
	host := strings.TrimPrefix(p, "*.")
	if host == "" || len(host) > 253 || strings.Contains(host, "*") {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// AllowsMX reports whether host (an MX name) matches one of the policy's
// patterns (RFC 8461 §4.1: a wildcard stands for exactly one label).
func (p Policy) AllowsMX(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if _, tail, ok := strings.Cut(host, "."); ok && tail == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// String is the policy in the form TLS-RPT reports quote (RFC 8460
// §4.4: "policy-string", one element a line).
func (p Policy) String() string {
	return strings.Join(p.Lines(), "\n")
}

// Lines are the policy's lines as RFC 8460's policy-string array has them.
func (p Policy) Lines() []string {
	lines := []string{"version: STSv1", "mode: " + string(p.Mode)}
	for _, mx := range p.MX {
		lines = append(lines, "mx: "+mx)
	}
	return append(lines, "max_age: "+strconv.FormatInt(p.MaxAge, 10))
}

// ParseRecord returns the id of a domain's _mta-sts TXT records (RFC 8461
// §3.1). Records that do not start with v=STSv1 are not ours; more than
// one of ours, or a bad one, is an error (then the domain has no usable
// record).
func ParseRecord(txts []string) (id string, found bool, err error) {
	for _, txt := range txts {
		if !strings.HasPrefix(txt, "v=STSv1") {
			continue
		}
		if found {
			return "", false, errors.New("more than one STSv1 record")
		}
		found = true
		for _, field := range strings.Split(txt, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
			if strings.TrimSpace(k) == "id" {
				id = strings.TrimSpace(v)
			}
		}
		if id == "" || len(id) > 32 || strings.IndexFunc(id, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			return "", false, fmt.Errorf("STSv1 record %q has no valid id", clip(txt))
		}
	}
	return id, found, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
