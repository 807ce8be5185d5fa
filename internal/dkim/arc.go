package dkim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"postern/internal/authcheck"
	"postern/internal/store"
)

// SealARC returns the ARC set (RFC 8617) that domain adds to msg when it
// forwards it, made with the domain's RSA key (the algorithm every ARC
// verifier knows), else its first active key. It implements
// deliver.Sealer.
func (s *Signer) SealARC(ctx context.Context, domain string, msg []byte, chain, authservID, results string) ([]byte, error) {
	keys, err := s.keys.DKIMKeys(ctx, domain, true)
	if err != nil {
		return nil, fmt.Errorf("dkim: keys of %s: %w", domain, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("dkim: %s has no active key to seal with", domain)
	}
	k := keys[0]
	for _, c := range keys {
		if c.Algorithm == store.DKIMRSA {
			k = c
			break
		}
	}
	key, err := s.signer(k)
	if err != nil {
		return nil, err
	}
	return authcheck.Seal(msg, authcheck.SealOptions{Domain: strings.ToLower(domain), Selector: k.Selector, Key: key,
		Chain: chain, AuthServID: authservID, Results: results, Now: time.Now()})
}
