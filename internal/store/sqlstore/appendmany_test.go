package sqlstore

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

func appendItem(t *testing.T, s *Store, acct int64, body string) store.AppendItem {
	t.Helper()
	w, err := s.Blobs().Create()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, body)
	key, size, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return store.AppendItem{
		Blob:         store.NewBlob{Key: key, Size: size, Inline: w.Inline()},
		Target:       store.DeliveryTarget{AccountID: acct},
		InternalDate: time.Unix(1700000000, 0),
	}
}

// TestAppendManyAtomic: all messages or none (RFC 3502).
func TestAppendManyAtomic(t *testing.T) {
	for _, inline := range []bool{true, false} {
		s := openTest(t)
		if !inline {
			s.Blobs().SetInlineMax(0)
		}
		ctx := context.Background()
		if _, err := s.AddDomain(ctx, "example.org"); err != nil {
			t.Fatal(err)
		}
		acct, err := s.AddAccount(ctx, "a@example.org", store.Credentials{PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		mb, err := s.Mailbox(ctx, acct.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		items := []store.AppendItem{appendItem(t, s, acct.ID, "Subject: 1\r\n\r\none\r\n"), appendItem(t, s, acct.ID, "Subject: 2\r\n\r\ntwo\r\n")}
		got, err := s.AppendMany(ctx, mb.ID, items)
		if err != nil || len(got) != 2 || got[0].UID != 1 || got[1].UID != 2 {
			t.Fatalf("AppendMany = %+v, %v", got, err)
		}
		// A message quota of 3 lets one more in, not two: neither is stored.
		if err := s.SetQuota(ctx, acct.Address, 0, 3); err != nil {
			t.Fatal(err)
		}
		items = []store.AppendItem{appendItem(t, s, acct.ID, "Subject: 3\r\n\r\nthree\r\n"), appendItem(t, s, acct.ID, strings.Repeat("x", 100))}
		if _, err := s.AppendMany(ctx, mb.ID, items); !errors.Is(err, store.ErrOverQuota) {
			t.Fatalf("over quota: %v", err)
		}
		st, err := s.MailboxStatus(ctx, mb.ID)
		if err != nil || st.Messages != 2 || st.UIDNext != 3 {
			t.Fatalf("after failed AppendMany: %+v %v", st, err)
		}
		a, err := s.AccountByID(ctx, acct.ID)
		if err != nil || a.UsedMessages != 2 {
			t.Fatalf("usage %+v %v", a, err)
		}
		if !inline {
			for _, it := range items {
				if _, err := s.Blobs().Size(it.Blob.Key); err == nil {
					t.Errorf("blob %s of a failed append left behind", it.Blob.Key)
				}
			}
		}
	}
}
