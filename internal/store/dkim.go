package store

import (
	"context"
	"time"
)

// DKIM key algorithms (RFC 6376 §3.3, RFC 8463).
const (
	DKIMRSA     = "rsa-sha256"
	DKIMEd25519 = "ed25519-sha256"
)

// DKIMKey is one signing key of a domain.
type DKIMKey struct {
	ID       int64
	DomainID int64
	Domain   string // filled on reads
	// Selector names the key in DNS: <selector>._domainkey.<domain>.
	Selector  string
	Algorithm string // DKIMRSA or DKIMEd25519
	// PrivateKeyPEM is the PKCS #8 private key in PEM.
	PrivateKeyPEM string
	CreatedAt     time.Time
	Active        bool
}

// DKIMKeys is the storage of DKIM keys.
type DKIMKeys interface {
	// RotateDKIMKeys stores keys as the domain's active keys and retires
	// the domain's other active keys, in one transaction. ErrNotFound when
	// the domain is not local; ErrExists when a selector is taken.
	RotateDKIMKeys(ctx context.Context, domain string, keys []DKIMKey) error
	// DKIMKeys lists a domain's keys, newest first; with activeOnly, only
	// the ones that sign. domain "" lists every domain's.
	DKIMKeys(ctx context.Context, domain string, activeOnly bool) ([]DKIMKey, error)
}
