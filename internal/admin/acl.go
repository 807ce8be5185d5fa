package admin

import (
	"context"
	"strings"

	"postern/internal/store"
)

// ShareEntry is one grant on a mailbox (RFC 4314 rights letters).
type ShareEntry struct {
	Identifier string // an address, "anyone", or "-address" for a negative entry
	Rights     string
}

// ShareMailbox sets what identifier may do with the owner's mailbox:
// rights in RFC 4314 letters ("lrs", "lrswipkxtea"), "" to take every
// right away. identifier is an account of the owner's domain, "anyone"
// (every account of it), or either with a leading "-" for rights denied
// whatever else grants them.
func (s *Service) ShareMailbox(ctx context.Context, owner, mailbox, identifier, rights string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	addr, err := address("address", owner)
	if err != nil {
		return err
	}
	r, err := store.ParseRights(rights)
	if err != nil {
		return invalid("rights", rights, err, "rights are letters of lrswipkxtea (and c, d)")
	}
	id := strings.ToLower(strings.TrimSpace(identifier))
	entry := store.ACLEntry{Rights: r}
	if entry.Negative = strings.HasPrefix(id, "-"); entry.Negative {
		id = id[1:]
	}
	if id != store.Anyone {
		if id, err = address("identifier", id); err != nil {
			return err
		}
	}
	entry.Identifier = id
	mb, err := s.ownerMailbox(ctx, addr, mailbox)
	if err != nil {
		return err
	}
	if err := s.st.SetMailboxACL(ctx, mb.ID, entry); err != nil {
		return storeErr(err, "identifier", identifier, "account "+id)
	}
	s.audit(ctx, "mailbox.share", addr+"/"+mb.Name, "identifier", identifier, "rights", r.String())
	return nil
}

// MailboxShares lists the grants on the owner's mailbox.
func (s *Service) MailboxShares(ctx context.Context, owner, mailbox string) ([]ShareEntry, error) {
	addr, err := address("address", owner)
	if err != nil {
		return nil, err
	}
	mb, err := s.ownerMailbox(ctx, addr, mailbox)
	if err != nil {
		return nil, err
	}
	entries, err := s.st.MailboxACL(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	out := make([]ShareEntry, len(entries))
	for i, e := range entries {
		id := e.Identifier
		if e.Negative {
			id = "-" + id
		}
		out[i] = ShareEntry{Identifier: id, Rights: e.Rights.String()}
	}
	return out, nil
}

func (s *Service) ownerMailbox(ctx context.Context, addr, mailbox string) (store.Mailbox, error) {
	a, err := s.account(ctx, addr)
	if err != nil {
		return store.Mailbox{}, err
	}
	if strings.EqualFold(mailbox, "INBOX") {
		mailbox = "INBOX"
	}
	mb, err := s.st.Mailbox(ctx, a.ID, mailbox)
	return mb, storeErr(err, "mailbox", mailbox, "mailbox "+mailbox+" of "+addr)
}
