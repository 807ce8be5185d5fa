package dkim

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/dkim"

	"postern/internal/store"
)

// signedHeaders are the fields signed, in this order (RFC 6376 §5.4.1's
// list of what should be signed). From is listed twice: the second entry
// signs its absence, so a second From added in transit breaks the
// signature (oversigning, §8.15). Fields absent from a message are skipped.
func signedHeaders() []string {
	return []string{
		"From", "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
		"In-Reply-To", "References", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "Sender", "List-Id", "List-Unsubscribe",
	}
}

// Signer signs outgoing mail with the active keys of the sender's domain.
type Signer struct {
	keys store.DKIMKeys

	mu     sync.Mutex
	parsed map[int64]crypto.Signer // by key id; RSA parsing is not free
}

// NewSigner returns a Signer reading keys from ks at every message, so a
// rotation is live at once.
func NewSigner(ks store.DKIMKeys) *Signer {
	return &Signer{keys: ks, parsed: map[int64]crypto.Signer{}}
}

func (s *Signer) signer(k store.DKIMKey) (crypto.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.parsed[k.ID]; ok {
		return p, nil
	}
	p, err := ParseKey(k)
	if err != nil {
		return nil, err
	}
	if len(s.parsed) > 1000 {
		clear(s.parsed)
	}
	s.parsed[k.ID] = p
	return p, nil
}

// Sign returns the DKIM-Signature fields for msg (a whole RFC 5322
// message, CRLF line ends), one per active key of domain, to be prepended to
// it; nothing when the domain has no keys. Both canonicalisations are
// relaxed (RFC 6376 §3.4.2, §3.4.4), which survives the header refolding
// and trailing-space changes common in transit.
func (s *Signer) Sign(ctx context.Context, domain string, msg []byte) ([]byte, error) {
	keys, err := s.keys.DKIMKeys(ctx, domain, true)
	if err != nil {
		return nil, fmt.Errorf("dkim: keys of %s: %w", domain, err)
	}
	var out bytes.Buffer
	for _, k := range keys {
		key, err := s.signer(k)
		if err != nil {
			return nil, err
		}
		sg, err := dkim.NewSigner(&dkim.SignOptions{
			Domain: strings.ToLower(domain), Selector: k.Selector, Signer: key,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             signedHeaders(),
		})
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		if _, err := io.Copy(sg, bytes.NewReader(msg)); err != nil {
			sg.Close()
			return nil, fmt.Errorf("dkim: %w", err)
		}
		if err := sg.Close(); err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		out.WriteString(sg.Signature())
	}
	return out.Bytes(), nil
}
