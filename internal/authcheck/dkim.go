package authcheck

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// DKIM verification (RFC 6376 §6, RFC 8463), ours rather than
// go-msgauth's (which signs): one pass over the body for all signatures,
// keys parsed once per record, every signature checked on the caller's
// goroutine. dkim_diff_test.go holds it to go-msgauth's verdicts.

type dkimResult struct {
	result   string // pass, fail, neutral, temperror, permerror (RFC 8601 §2.7.1)
	reason   string
	domain   string // d=
	selector string // s=
}

// dkimCandidate is a signature whose key fits it, waiting for its body
// hash.
type dkimCandidate struct {
	index int
	sig   *dkimSignature
	key   *dkimKey
	body  *bodySink
}

// checkDKIM verifies the message's DKIM signatures, the first
// MaxSignatures of them in the order of the header; headerErr is the
// header reader's (a header over its limits is not verified).
func (c *Checker) checkDKIM(ctx context.Context, in Input, fields []field, headerErr error) []dkimResult {
	var sigFields []*field
	for i := range fields {
		if strings.EqualFold(fields[i].name, "DKIM-Signature") && len(sigFields) < c.o.MaxSignatures {
			sigFields = append(sigFields, &fields[i])
		}
	}
	if len(sigFields) == 0 {
		return nil
	}
	out := make([]dkimResult, len(sigFields))
	var bodies bodyHashes
	var candidates []dkimCandidate
	now := c.o.Now()
	for i, f := range sigFields {
		sig, perr := parseSignature(f.raw, now)
		out[i] = dkimResult{domain: sig.domain, selector: sig.selector}
		var err error
		if perr != nil {
			err = perr
		} else if headerErr != nil {
			err = permerror("header over %d bytes or %d fields", maxHeaderBytes, maxHeaderFields)
		}
		var key *dkimKey
		if err == nil {
			key, err = c.fetchKey(ctx, sig.selector, sig.domain)
		}
		if err == nil {
			err = keyFits(sig, key)
		}
		if err != nil {
			out[i].setError(err, key)
			continue
		}
		candidates = append(candidates, dkimCandidate{i, sig, key, bodies.want(sig.relaxedBody, sig.length)})
	}
	if len(candidates) == 0 {
		return out
	}
	start := headerEnd(in, fields)
	if err := bodies.run(io.NewSectionReader(in.Message, start, in.Size-start)); err != nil {
		for _, cand := range candidates {
			out[cand.index].setError(&dkimError{"temperror", "message unreadable"}, nil)
		}
		return out
	}
	// A domain that signs twice (RFC 8463 §4 asks for Ed25519 beside RSA)
	// is settled by its first signature that passes: the other says
	// nothing more to DMARC or to a reader, and costs its public-key
	// arithmetic, a third of the checks. It is left out of the results.
	// RSA goes first: crypto/rsa verifies faster than crypto/ed25519.
	slices.SortStableFunc(candidates, func(a, b dkimCandidate) int {
		return cmp.Compare(a.key.verifyOrder(), b.key.verifyOrder())
	})
	passed := map[string]bool{}
	var skipped []int
	var data []byte
	for _, cand := range candidates {
		r := &out[cand.index]
		if passed[strings.ToLower(r.domain)] && !c.o.VerifyEverySignature {
			skipped = append(skipped, cand.index)
			continue
		}
		var err error
		data, err = verifyCandidate(data[:0], fields, cand)
		if err != nil {
			r.setError(err, cand.key)
			continue
		}
		r.result = "pass"
		passed[strings.ToLower(r.domain)] = true
		if cand.sig.length >= 0 {
			// l= is honoured (RFC 6376 §3.5) and said: what follows the
			// signed part could be anything (§8.2).
			r.reason = fmt.Sprintf("l=%d signs the whole body", cand.sig.length)
			if unsigned := cand.body.total - cand.sig.length; unsigned > 0 {
				r.reason = fmt.Sprintf("l=%d leaves %d body bytes unsigned", cand.sig.length, unsigned)
			}
		}
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		for i := len(skipped) - 1; i >= 0; i-- {
			out = slices.Delete(out, skipped[i], skipped[i]+1)
		}
	}
	return out
}

// verifyOrder ranks keys by the cost of a verification, cheapest first.
func (k *dkimKey) verifyOrder() int {
	if k.rsa != nil && k.rsa.N.BitLen() <= 2048 {
		return 0
	}
	if k.rsa == nil {
		return 1 // Ed25519
	}
	return 2
}

// keyFits checks a key against the signature that names it (RFC 6376
// §6.1.2): its type, its hash algorithms, its t=s flag.
func keyFits(sig *dkimSignature, key *dkimKey) error {
	switch {
	case key.keyType() != sig.keyType:
		return permerror("%s key for an %s signature", key.keyType(), sig.algorithm)
	case !key.allowsHash("sha256"):
		return permerror("key does not allow sha256 (h= tag)")
	case key.strict && sig.idDomain != "" && sig.idDomain != sig.domain:
		return permerror("i= is a subdomain of d=, which the key's t=s forbids")
	}
	return nil
}

// verifyCandidate checks a signature's body hash, then its signature
// over the header (RFC 6376 §6.1.3); data is a buffer to reuse, returned.
func verifyCandidate(data []byte, fields []field, cand dkimCandidate) ([]byte, error) {
	body := cand.body
	if body.limit > body.total {
		return data, failure("body shorter than l=")
	}
	if !bytes.Equal(body.sum, cand.sig.bodyHash) {
		return data, failure("body hash did not verify")
	}
	data = appendSignedHeader(data, fields, cand.sig)
	if err := verifySignature(cand.sig.algorithm, cand.key, data, cand.sig.signature); err != nil {
		return data, failure(err.Error())
	}
	return data, nil
}

// appendSignedHeader appends what a signature signs of the header (RFC
// 6376 §3.7, §5.4.2): the fields of h= chosen from the bottom, each
// instance once, canonicalized, then the signature field itself without
// its b= value and without its final CRLF.
func appendSignedHeader(dst []byte, fields []field, sig *dkimSignature) []byte {
	used := make([]bool, len(fields))
	for _, name := range sig.headers {
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, name) {
				used[i] = true
				dst = appendCanonHeader(dst, fields[i].raw, sig.relaxedHeader)
				break
			}
		}
	}
	dst = appendCanonHeader(dst, withoutSignature(sig.field), sig.relaxedHeader)
	return bytes.TrimSuffix(dst, crlf)
}

// setError records why a signature did not pass. A key in testing mode
// (t=y) turns a failure into neutral: RFC 6376 §3.6.1 treats its
// signatures as no signature, so a failure is not held against the
// message (a pass still counts, as every major receiver counts it).
func (r *dkimResult) setError(err error, key *dkimKey) {
	var de *dkimError
	if !errors.As(err, &de) {
		de = &dkimError{"permerror", err.Error()}
	}
	r.result, r.reason = de.result, de.reason
	if key != nil && key.testing && de.result == "fail" {
		r.result, r.reason = "neutral", de.reason+" (key in testing mode, t=y)"
	}
}
