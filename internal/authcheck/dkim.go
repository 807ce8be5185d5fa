package authcheck

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

type dkimResult struct {
	result   string // pass, fail, neutral, temperror, permerror (RFC 8601 §2.7.1)
	reason   string
	domain   string // d=
	selector string // s=
}

// checkDKIM verifies the message's DKIM signatures, at most
// MaxSignatures of them.
func (c *Checker) checkDKIM(ctx context.Context, in Input, fields []field) []dkimResult {
	lookup := func(name string) ([]string, error) { return c.o.Resolver.LookupTXT(ctx, name) }
	verifs, err := dkim.VerifyWithOptions(io.NewSectionReader(in.Message, 0, in.Size),
		&dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: c.o.MaxSignatures})
	selectors := signatureSelectors(fields)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// go-msgauth then clears the error of the signature that failed
		// this way: none of them can be trusted to have passed.
		out := []dkimResult{}
		for i := range max(1, len(verifs)) {
			r := dkimResult{result: "permerror", reason: err.Error()}
			if i < len(verifs) {
				r.domain = strings.ToLower(verifs[i].Domain)
			}
			out = append(out, r)
		}
		return out
	}
	out := make([]dkimResult, 0, len(verifs))
	for i, v := range verifs {
		r := dkimResult{domain: strings.ToLower(v.Domain), result: "pass"}
		if i < len(selectors) {
			r.selector = selectors[i]
		}
		switch {
		case v.Err == nil && !v.Expiration.IsZero() && c.o.Now().After(v.Expiration):
			// RFC 6376 §3.5 x=: go-msgauth reads it, we enforce it.
			r.result, r.reason = "fail", "signature expired"
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			r.result, r.reason = "temperror", v.Err.Error()
		case dkim.IsPermFail(v.Err):
			r.result, r.reason = "permerror", v.Err.Error()
		default:
			r.result, r.reason = "fail", v.Err.Error()
		}
		out = append(out, r)
	}
	return out
}

// signatureSelectors returns the s= tag of each DKIM-Signature, in the
// order of the header (the order of go-msgauth's verifications).
func signatureSelectors(fields []field) []string {
	var out []string
	for _, f := range fieldsNamed(fields, "DKIM-Signature") {
		out = append(out, tagValue(f.value(), "s"))
	}
	return out
}

// tagValue returns a tag of a DKIM-style tag list, whitespace removed.
func tagValue(list, tag string) string {
	for _, part := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
