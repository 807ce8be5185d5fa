package authcheck

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// sealedHeaders are the fields an ARC-Message-Signature signs when the
// message has them: what DKIM signers sign, with the DKIM signatures and
// the results the next hop may want to trust.
var sealedHeaders = []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Reply-To", "List-Id", "DKIM-Signature"}

// SealOptions say who seals.
type SealOptions struct {
	Domain, Selector string
	Key              crypto.Signer // RSA or Ed25519
	// Chain is the validation of the chain the message came with: none,
	// pass or fail (the verdict's ARC result).
	Chain string
	// AuthServID and Results are what our Authentication-Results field
	// says (Verdict.Results), repeated in the ARC-Authentication-Results.
	AuthServID, Results string
	Now                 time.Time
}

// ErrNoSeal: the chain is too long, or failed before us, and gets no
// further instance (RFC 8617 §5.1: a failed chain is not continued).
var ErrNoSeal = errors.New("arc: chain not sealed")

// Seal returns the next ARC set for msg (RFC 8617 §5.1): the ARC-Seal,
// ARC-Message-Signature and ARC-Authentication-Results fields to prepend.
func Seal(msg []byte, o SealOptions) ([]byte, error) {
	fields, err := readHeader(bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	sets, err := arcSets(fields)
	cv := "none"
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrNoSeal, err)
	case len(sets) >= maxARCInstances:
		return nil, fmt.Errorf("%w: %d instances", ErrNoSeal, len(sets))
	case len(sets) > 0 && o.Chain != "pass":
		return nil, fmt.Errorf("%w: chain %s", ErrNoSeal, o.Chain)
	case len(sets) > 0:
		cv = "pass"
	}
	alg, err := algorithmOf(o.Key)
	if err != nil {
		return nil, err
	}
	i := len(sets) + 1
	t := o.Now.Unix()
	aar := fmt.Sprintf("ARC-Authentication-Results: i=%d; %s;\r\n\t%s\r\n", i, o.AuthServID, o.Results)

	bh, err := bodyHash(bytes.NewReader(msg[headerEndOf(msg, fields):]), true, -1)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range sealedHeaders {
		for range fieldsNamed(fields, n) {
			names = append(names, strings.ToLower(n))
		}
	}
	ams := fmt.Sprintf("ARC-Message-Signature: i=%d; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%d;\r\n\th=%s;\r\n\tbh=%s; b=",
		i, alg, o.Domain, o.Selector, t, strings.Join(names, ":"), base64.StdEncoding.EncodeToString(bh))
	var data strings.Builder
	for _, raw := range selectFields(fields, names) {
		data.WriteString(relaxedHeader(raw))
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader([]byte(ams)), "\r\n"))
	sig, err := sign(o.Key, data.String())
	if err != nil {
		return nil, err
	}
	ams += fold(sig) + "\r\n"

	seal := fmt.Sprintf("ARC-Seal: i=%d; a=%s; cv=%s; d=%s; s=%s; t=%d; b=", i, alg, cv, o.Domain, o.Selector, t)
	data.Reset()
	for j := 1; j < i; j++ {
		data.WriteString(relaxedHeader(sets[j].aar.raw))
		data.WriteString(relaxedHeader(sets[j].ams.raw))
		data.WriteString(relaxedHeader(sets[j].seal.raw))
	}
	data.WriteString(relaxedHeader([]byte(aar)))
	data.WriteString(relaxedHeader([]byte(ams)))
	data.WriteString(strings.TrimSuffix(relaxedHeader([]byte(seal)), "\r\n"))
	if sig, err = sign(o.Key, data.String()); err != nil {
		return nil, err
	}
	seal += fold(sig) + "\r\n"
	return []byte(seal + ams + aar), nil
}

func algorithmOf(key crypto.Signer) (string, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return "rsa-sha256", nil
	case ed25519.PublicKey:
		return "ed25519-sha256", nil
	}
	return "", errors.New("arc: key is neither RSA nor Ed25519")
}

// sign signs data's SHA-256 (Ed25519 too, RFC 8463 §3) and returns it
// in base64.
func sign(key crypto.Signer, data string) (string, error) {
	sum := sha256.Sum256([]byte(data))
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		opts = crypto.Hash(0)
	}
	sig, err := key.Sign(rand.Reader, sum[:], opts)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// fold breaks a long base64 value into lines of 72 (white space inside
// b= is ignored, RFC 6376 §3.5).
func fold(s string) string {
	var b strings.Builder
	for len(s) > 72 {
		b.WriteString(s[:72] + "\r\n\t")
		s = s[72:]
	}
	b.WriteString(s)
	return b.String()
}

// headerEndOf is the offset of msg's body.
func headerEndOf(msg []byte, fields []field) int {
	n := 0
	for _, f := range fields {
		n += len(f.raw)
	}
	if bytes.HasPrefix(msg[n:], []byte("\r\n")) {
		n += 2
	}
	return n
}
