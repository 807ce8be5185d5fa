package sqlstore

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

// TestLightListings: the light listings agree with Messages on every field
// they carry, SELECT's listing finds the first unseen message and the
// keywords, and the listing queries read the covering index only.
func TestLightListings(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "l@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	targets := []store.DeliveryTarget{
		{AccountID: a.ID, Flags: store.FlagSeen},
		{AccountID: a.ID, Flags: store.FlagSeen, Keywords: []string{"$Work", "Later"}},
		{AccountID: a.ID},
		{AccountID: a.ID, Keywords: []string{"$Work"}},
	}
	for i, tg := range targets {
		body := []byte("Subject: m\r\n\r\nbody " + strings.Repeat("x", i) + "\r\n")
		nb := store.NewBlob{Body: store.BytesBody(body),
			Meta: store.MessageMeta{Envelope: []byte("env"), BodyStructure: []byte("bs"), Preview: "p"}}
		if _, err := s.Append(ctx, mb.ID, nb, tg, time.Unix(1700000000+int64(i), 0)); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Messages(ctx, mb.ID, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	light, err := s.MessageFlags(ctx, mb.ID, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		full[i].Envelope, full[i].BodyStructure, full[i].Preview = nil, nil, ""
	}
	if !reflect.DeepEqual(full, light) {
		t.Errorf("MessageFlags:\n%+v\nMessages without the cached parts:\n%+v", light, full)
	}
	l, err := s.SelectListing(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.UIDs, []uint32{1, 2, 3, 4}) || l.FirstUnseen != 3 {
		t.Errorf("SelectListing: UIDs %v, first unseen %d; want [1 2 3 4], 3", l.UIDs, l.FirstUnseen)
	}
	kw := map[string]bool{}
	for _, k := range l.Keywords {
		kw[k] = true
	}
	if !kw["$Work"] || !kw["Later"] || len(kw) != 2 {
		t.Errorf("SelectListing keywords %v", l.Keywords)
	}
	uids, err := s.MessageUIDs(ctx, mb.ID)
	if err != nil || !reflect.DeepEqual(uids, l.UIDs) {
		t.Errorf("MessageUIDs %v, %v", uids, err)
	}
	hm, err := s.HighestModSeq(ctx, mb.ID)
	if st, _ := s.MailboxStatus(ctx, mb.ID); err != nil || hm != st.HighestModSeq {
		t.Errorf("HighestModSeq %d (%v), MailboxStatus says %d", hm, err, st.HighestModSeq)
	}
	if _, err := s.HighestModSeq(ctx, 9999); err == nil {
		t.Errorf("HighestModSeq of a missing mailbox: no error")
	}
	for _, q := range []string{
		`SELECT uid, flags, keywords FROM messages WHERE mailbox_id = 1 ORDER BY uid`,
		`SELECT id, uid, modseq, flags, keywords, internal_date, size, blob_id FROM messages WHERE mailbox_id = 1 AND uid >= 1 AND uid <= 9 ORDER BY uid`,
	} {
		plan := queryPlan(t, s, q)
		if !strings.Contains(plan, "USING PRIMARY KEY (mailbox_id=?") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s", q, plan)
		}
	}
}

func queryPlan(t *testing.T, s *Store, q string) string {
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "; ")
}
