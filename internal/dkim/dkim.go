// Package dkim holds Postern's DKIM keys and signing (RFC 6376): key pairs
// made per domain (ed25519-sha256, RFC 8463, beside rsa-sha256 for verifiers
// that know only RSA), their DNS TXT records, and a Signer that adds one
// DKIM-Signature per active key of the sender's domain. Keys live in the
// store (store.DKIMKeys); signing is done with github.com/emersion/go-msgauth.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"postern/internal/store"
)

// rsaBits is the RSA key size: 2048 is what RFC 8301 §3.2 recommends and
// what fits one DNS TXT record with room to spare.
const rsaBits = 2048

// GenerateKeys makes a new key pair of each algorithm for a domain, with
// selectors unique enough to rotate several times a day:
// <yyyymmdd><4 hex>e (Ed25519) and ...r (RSA).
func GenerateKeys(now time.Time) ([]store.DKIMKey, error) {
	var rnd [2]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	base := now.UTC().Format("20060102") + hex.EncodeToString(rnd[:])
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, err
	}
	var out []store.DKIMKey
	for _, k := range []struct {
		sel, alg string
		key      crypto.Signer
	}{{base + "e", store.DKIMEd25519, edKey}, {base + "r", store.DKIMRSA, rsaKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, err
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		out = append(out, store.DKIMKey{Selector: k.sel, Algorithm: k.alg, PrivateKeyPEM: string(p), CreatedAt: now})
	}
	return out, nil
}

// ParseKey decodes a stored key and checks it matches its algorithm.
func ParseKey(k store.DKIMKey) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(k.PrivateKeyPEM))
	if b == nil {
		return nil, errors.New("dkim: key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	switch key := key.(type) {
	case ed25519.PrivateKey:
		if k.Algorithm == store.DKIMEd25519 {
			return key, nil
		}
	case *rsa.PrivateKey:
		if k.Algorithm == store.DKIMRSA {
			return key, nil
		}
	}
	return nil, fmt.Errorf("dkim: key of selector %s is not %s", k.Selector, k.Algorithm)
}

// RecordName is the DNS name of a key's TXT record (RFC 6376 §3.6.2.1).
func RecordName(k store.DKIMKey, domain string) string {
	return k.Selector + "._domainkey." + domain
}

// TXTRecord is the key record's text (RFC 6376 §3.6.1): k=ed25519 carries
// the raw 32-byte public key (RFC 8463 §4.2), k=rsa the DER
// SubjectPublicKeyInfo.
func TXTRecord(k store.DKIMKey) (string, error) {
	key, err := ParseKey(k)
	if err != nil {
		return "", err
	}
	var kt string
	var pub []byte
	switch p := key.Public().(type) {
	case ed25519.PublicKey:
		kt, pub = "ed25519", p
	case *rsa.PublicKey:
		kt = "rsa"
		if pub, err = x509.MarshalPKIXPublicKey(p); err != nil {
			return "", err
		}
	}
	return "v=DKIM1; k=" + kt + "; p=" + base64.StdEncoding.EncodeToString(pub), nil
}

// ZoneTXT quotes a TXT value for a zone file, split into strings of at
// most 255 bytes (RFC 1035 §3.3.14: one character-string holds 255).
func ZoneTXT(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}
