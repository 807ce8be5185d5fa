package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// TestMessageFlagsChangedSince: the light resync listing matches
// MessagesChangedSince but for the cached envelope, and stays on the
// modseq index.
func TestMessageFlagsChangedSince(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	acct, err := s.AddAccount(ctx, "a@example.org", store.Credentials{PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]store.AppendItem, 6)
	for i := range items {
		items[i] = store.AppendItem{Blob: store.NewBlob{Body: store.BytesBody("Subject: m\r\n\r\nbody\r\n"),
			Meta: store.MessageMeta{Headers: "Subject: m", SearchText: "body"}},
			Target: store.DeliveryTarget{AccountID: acct.ID}, InternalDate: time.Unix(1700000000, 0)}
	}
	inbox, err := s.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendMany(ctx, inbox.ID, items); err != nil {
		t.Fatal(err)
	}
	mb, _ := s.Mailbox(ctx, acct.ID, "INBOX")
	base := mb.HighestModSeq
	// Change 5 first, then 2: modseq order differs from UID order.
	for _, u := range []uint32{5, 2} {
		if _, err := s.UpdateFlags(ctx, inbox.ID, []uint32{u}, store.FlagUpdate{Op: store.FlagsAdd, Keywords: []string{"k"}}); err != nil {
			t.Fatal(err)
		}
	}
	light, err := s.MessageFlagsChangedSince(ctx, inbox.ID, base)
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.MessagesChangedSince(ctx, inbox.ID, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(light) != 2 || len(full) != 2 || light[0].UID != 2 || light[1].UID != 5 {
		t.Fatalf("light %+v full %+v", light, full)
	}
	for i := range light {
		l, f := light[i], full[i]
		if l.ID != f.ID || l.ModSeq != f.ModSeq || l.Flags != f.Flags || strings.Join(l.Keywords, " ") != "k" ||
			l.Size != f.Size || !l.InternalDate.Equal(f.InternalDate) || l.BlobID != f.BlobID || l.Envelope != nil {
			t.Errorf("light %+v, full %+v", l, f)
		}
	}
	if none, err := s.MessageFlagsChangedSince(ctx, inbox.ID, base+2); err != nil || len(none) != 0 {
		t.Fatalf("nothing changed: %v %+v", err, none)
	}
	plan := queryPlan(t, s, strings.ReplaceAll(changedSinceQuery, "?", "1"))
	if !strings.Contains(plan, "USING PRIMARY KEY (mailbox_id=?)") || strings.Contains(plan, "TEMP B-TREE") {
		t.Fatalf("plan %q", plan)
	}
}
