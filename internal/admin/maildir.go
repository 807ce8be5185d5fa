package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"postern/internal/maildir"
	"postern/internal/msgmeta"
	"postern/internal/store"
)

// MaildirOptions tune ImportMaildir.
type MaildirOptions struct {
	DryRun bool
	// MaxMessageBytes refuses bigger files (counted after line endings
	// become CRLF); 0 is no limit.
	MaxMessageBytes int64
	// Progress, when set, is told of each folder as it starts.
	Progress func(folder string, messages int)
}

// MaildirResult says what an import did (or, dry, would do).
type MaildirResult struct {
	Folders  int
	Messages int
	Bytes    int64
	Created  []string // mailboxes created
	Skipped  []string // files not imported, with why
}

// ImportMaildir copies a Maildir++ tree (Dovecot's or Courier's, see
// package maildir) into the account at addr: each folder into the
// mailbox of the same name, created when missing; each message with its
// flags, keywords and arrival time, oldest first. The account's quota
// holds: an import that would exceed it stops there, with what it copied
// kept. Running it twice copies everything twice.
func (s *Service) ImportMaildir(ctx context.Context, addr, dir string, o MaildirOptions) (MaildirResult, error) {
	var res MaildirResult
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return res, err
	}
	folders, err := maildir.Folders(dir)
	if err != nil {
		return res, invalid("dir", dir, err, "%v", err)
	}
	for _, f := range folders {
		if err = s.importFolder(ctx, acct, f, o, &res); err != nil {
			break
		}
	}
	// An import stopped part way (the quota) has changed the account too.
	if !o.DryRun && (err == nil || res.Messages > 0 || len(res.Created) > 0) {
		s.audit(ctx, "maildir.import", acct.Address, "folders", res.Folders, "messages", res.Messages, "bytes", res.Bytes,
			"created", len(res.Created), "skipped", len(res.Skipped))
	}
	return res, err
}

// importFolder imports one folder into its mailbox, creating it.
func (s *Service) importFolder(ctx context.Context, acct store.Account, f maildir.Folder, o MaildirOptions, res *MaildirResult) error {
	msgs, err := maildir.Messages(f)
	if err != nil {
		return err
	}
	res.Folders++
	if o.Progress != nil {
		o.Progress(f.Name, len(msgs))
	}
	mb, err := s.st.Mailbox(ctx, acct.ID, f.Name)
	switch {
	case errors.Is(err, store.ErrNotFound) && o.DryRun:
		res.Created = append(res.Created, f.Name)
	case errors.Is(err, store.ErrNotFound):
		if mb, err = s.st.CreateMailbox(ctx, acct.ID, f.Name, ""); err != nil {
			return storeErr(err, "dir", f.Name, "mailbox "+f.Name)
		}
		res.Created = append(res.Created, f.Name)
	case err != nil:
		return err
	}
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, skip, err := s.importMessage(ctx, acct.ID, mb.ID, m, o)
		switch {
		case err != nil && errors.Is(err, store.ErrOverQuota):
			return conflict("quota", acct.Address, err, "%s is over its quota after %d messages; the rest was not imported", acct.Address, res.Messages)
		case err != nil:
			return err
		case skip != "":
			res.Skipped = append(res.Skipped, m.Path+": "+skip)
		default:
			res.Messages++
			res.Bytes += n
		}
	}
	return nil
}

// importMessage appends one message file (only reads it when dry) and
// returns its size in the store, or why it was skipped.
func (s *Service) importMessage(ctx context.Context, accountID, mailboxID int64, m maildir.Message, o MaildirOptions) (int64, string, error) {
	tooBig := func(n int64) bool { return o.MaxMessageBytes > 0 && n > o.MaxMessageBytes }
	// The file's size is checked before it is read: CRLF only makes it longer.
	if tooBig(m.Size) {
		return 0, fmt.Sprintf("%d bytes, over the limit of %d", m.Size, o.MaxMessageBytes), nil
	}
	raw, err := os.ReadFile(m.Path)
	if err != nil {
		return 0, err.Error(), nil
	}
	body := maildir.CRLF(raw)
	size := int64(len(body))
	if tooBig(size) {
		return 0, fmt.Sprintf("%d bytes, over the limit of %d", size, o.MaxMessageBytes), nil
	}
	if o.DryRun {
		return size, "", nil
	}
	meta, err := msgmeta.Parse(bytes.NewReader(body))
	if err != nil {
		return 0, err.Error(), nil
	}
	t := store.DeliveryTarget{AccountID: accountID, Flags: m.Flags, Keywords: m.Keywords}
	if _, err := s.st.Append(ctx, mailboxID, store.NewBlob{Body: store.BytesBody(body), Meta: meta}, t, m.Received); err != nil {
		return 0, "", err
	}
	return size, "", nil
}
