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
		msgs, err := maildir.Messages(f)
		if err != nil {
			return res, err
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
				return res, storeErr(err, "dir", f.Name, "mailbox "+f.Name)
			}
			res.Created = append(res.Created, f.Name)
		case err != nil:
			return res, err
		}
		for _, m := range msgs {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if o.MaxMessageBytes > 0 && m.Size > o.MaxMessageBytes {
				// Checked before reading: CRLF only makes it longer.
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %d bytes, over the limit of %d", m.Path, m.Size, o.MaxMessageBytes))
				continue
			}
			raw, err := os.ReadFile(m.Path)
			if err != nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", m.Path, err))
				continue
			}
			body := maildir.CRLF(raw)
			if o.MaxMessageBytes > 0 && int64(len(body)) > o.MaxMessageBytes {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %d bytes, over the limit of %d", m.Path, len(body), o.MaxMessageBytes))
				continue
			}
			if o.DryRun {
				res.Messages++
				res.Bytes += int64(len(body))
				continue
			}
			meta, err := msgmeta.Parse(bytes.NewReader(body))
			if err != nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", m.Path, err))
				continue
			}
			t := store.DeliveryTarget{AccountID: acct.ID, Flags: m.Flags, Keywords: m.Keywords}
			if _, err := s.st.Append(ctx, mb.ID, store.NewBlob{Body: store.BytesBody(body), Meta: meta}, t, m.Received); err != nil {
				if errors.Is(err, store.ErrOverQuota) {
					return res, conflict("quota", acct.Address, err, "%s is over its quota after %d messages; the rest was not imported", acct.Address, res.Messages)
				}
				return res, err
			}
			res.Messages++
			res.Bytes += int64(len(body))
		}
	}
	if !o.DryRun {
		s.audit(ctx, "maildir.import", acct.Address, "folders", res.Folders, "messages", res.Messages, "bytes", res.Bytes,
			"created", len(res.Created), "skipped", len(res.Skipped))
	}
	return res, nil
}
