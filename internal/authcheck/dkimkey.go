package authcheck

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"postern/internal/resolve"
)

// Bounds of key records: RSA keys from 1024 bits (RFC 8301 §3.2) to
// 8192 (RFC 6376 §3.3.3 asks verifiers for up to 4096; twice that is
// generous and keeps one verification cheap).
const (
	minRSABits      = 1024
	maxRSABits      = 8192
	maxKeyRecordLen = 8 << 10
)

// dkimKey is a key record (RFC 6376 §3.6.1), parsed.
type dkimKey struct {
	rsa     *rsa.PublicKey
	ed25519 ed25519.PublicKey
	// hashes are the h= tag's algorithms; nil allows any.
	hashes []string
	// testing is t=y: the domain is trying DKIM out.
	testing bool
	// strict is t=s: i= must be in d= itself, not a subdomain.
	strict bool
}

// keyType is the k= of the record: rsa or ed25519.
func (k *dkimKey) keyType() string {
	if k.rsa != nil {
		return "rsa"
	}
	return "ed25519"
}

// allowsHash tells whether h= lets the key be used with hash.
func (k *dkimKey) allowsHash(hash string) bool {
	return k.hashes == nil || contains(k.hashes, hash)
}

// fetchKey fetches and parses the key of selector s at domain d (RFC 6376
// §3.6.2, §6.1.2). The error is a *dkimError: temperror when DNS failed,
// permerror when there is no usable key.
func (c *Checker) fetchKey(ctx context.Context, s, d string) (*dkimKey, error) {
	name := s + "._domainkey." + d
	txts, err := c.o.Resolver.LookupTXT(ctx, name)
	switch {
	case resolve.IsTemporary(err):
		return nil, &dkimError{"temperror", "key unavailable"}
	case err != nil:
		return nil, &dkimError{"permerror", "no key for signature at " + name}
	case len(txts) == 0:
		return nil, &dkimError{"permerror", "no key for signature at " + name}
	case len(txts) > 1:
		// RFC 6376 §3.6.2.2 leaves several records undefined.
		return nil, &dkimError{"permerror", fmt.Sprintf("%d key records at %s", len(txts), name)}
	}
	key, err := c.keys.parse(txts[0])
	if err != nil {
		return nil, &dkimError{"permerror", err.Error()}
	}
	return key, nil
}

// maxParsedKeys bounds the key cache; when full it starts again.
const maxParsedKeys = 1000

// keyCache keeps keys parsed by the text of their record. The resolver's
// cache decides how long a record is believed (its TTL, at most an hour):
// a record that changes is another entry, so a key is used parsed for as
// long as DNS gives the same record, and never longer. It is safe for
// concurrent use.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]parsedKey
}

type parsedKey struct {
	key *dkimKey
	err error
}

func (kc *keyCache) parse(record string) (*dkimKey, error) {
	kc.mu.Lock()
	p, ok := kc.keys[record]
	kc.mu.Unlock()
	if ok {
		return p.key, p.err
	}
	key, err := parseKeyRecord(record)
	kc.mu.Lock()
	if kc.keys == nil || len(kc.keys) >= maxParsedKeys {
		kc.keys = map[string]parsedKey{}
	}
	kc.keys[record] = parsedKey{key, err}
	kc.mu.Unlock()
	return key, err
}

// parseKeyRecord reads a DKIM key record (RFC 6376 §3.6.1); an error says
// why the key cannot be used (§6.1.2's PERMFAIL reasons).
func parseKeyRecord(record string) (*dkimKey, error) {
	if len(record) > maxKeyRecordLen {
		return nil, errors.New("key record too long")
	}
	tags, err := tagList(record)
	if err != nil {
		return nil, fmt.Errorf("key syntax error: %v", err)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("key version %q", v)
	}
	p, ok := tags["p"]
	switch {
	case !ok:
		return nil, errors.New("key syntax error: no p= tag")
	case p == "":
		return nil, errors.New("key revoked")
	}
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, errors.New("key syntax error: p= is not base64")
	}
	key := &dkimKey{}
	switch tags["k"] {
	case "", "rsa":
		if key.rsa, err = parseRSAKey(raw); err != nil {
			return nil, err
		}
	case "ed25519": // RFC 8463 §4: the bare 32-byte key
		if len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("key syntax error: Ed25519 key of the wrong size")
		}
		key.ed25519 = ed25519.PublicKey(raw)
	default:
		return nil, fmt.Errorf("key type %q not supported", tags["k"])
	}
	if h, ok := tags["h"]; ok {
		key.hashes = strings.Split(h, ":")
	}
	if s, ok := tags["s"]; ok {
		services := strings.Split(s, ":")
		if !contains(services, "email") && !contains(services, "*") {
			return nil, errors.New("key not for email (s= tag)")
		}
	}
	for _, flag := range strings.Split(tags["t"], ":") {
		switch flag {
		case "y":
			key.testing = true
		case "s":
			key.strict = true
		}
	}
	return key, nil
}

// parseRSAKey reads an RSA key in SubjectPublicKeyInfo or, as RFC 6376
// erratum 3017 allows, RSAPublicKey form.
func parseRSAKey(raw []byte) (*rsa.PublicKey, error) {
	var rk *rsa.PublicKey
	if pub, err := x509.ParsePKIXPublicKey(raw); err == nil {
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("key syntax error: not an RSA key")
		}
		rk = k
	} else if k, err := x509.ParsePKCS1PublicKey(raw); err == nil {
		rk = k
	} else {
		return nil, errors.New("key syntax error: malformed RSA key")
	}
	switch bits := rk.N.BitLen(); {
	case bits < minRSABits:
		return nil, fmt.Errorf("RSA key of %d bits, under %d (RFC 8301)", bits, minRSABits)
	case bits > maxRSABits:
		return nil, fmt.Errorf("RSA key of %d bits, over %d", bits, maxRSABits)
	}
	return rk, nil
}

// verifySignature checks sig over the SHA-256 of data with a rsa-sha256
// or ed25519-sha256 key (RFC 8463 §3 signs the hash too).
func verifySignature(alg string, key *dkimKey, data []byte, sig []byte) error {
	sum := sha256.Sum256(data)
	switch {
	case key.rsa != nil:
		if alg != "rsa-sha256" {
			return fmt.Errorf("algorithm %s with an RSA key", alg)
		}
		if rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, sum[:], sig) != nil {
			return errors.New("signature did not verify")
		}
		return nil
	case key.ed25519 != nil:
		if alg != "ed25519-sha256" {
			return fmt.Errorf("algorithm %s with an Ed25519 key", alg)
		}
		if !ed25519.Verify(key.ed25519, sum[:], sig) {
			return errors.New("signature did not verify")
		}
		return nil
	}
	return errors.New("unknown key")
}
