package sqlstore

import (
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"postern/internal/blob"
	"postern/internal/store"
)

// A database written by the version before segments (migrations 0001 to
// 0007: small bodies inline, large ones as files, per-mailbox modseqs) is
// upgraded in place: ids and modseqs kept, inline bodies moved to a
// segment by the next compaction, every body indexed again, searches right
// before and after.
func TestUpgradeFromInlineBodies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "postern.db")
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	large := "Subject: large\r\nReferences: <r1@x> <r2@x>\r\n\r\n" + strings.Repeat("filebody ", 40000)
	w, _ := b.Create()
	w.Spill()
	io.WriteString(w, large)
	largeKey, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	oldSchema(t, path, largeKey, int64(len(large)))
	s, err := Open(context.Background(), Options{Path: path, Blobs: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	a, err := s.Account(ctx, "u@example.org")
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.Mailbox(ctx, a.ID, "INBOX")
	msgs, err := s.Messages(ctx, inbox.ID, 1, 0)
	if err != nil || len(msgs) != 2 || msgs[0].ID != 7 || msgs[1].ID != 8 || msgs[1].ModSeq != 3 || msgs[0].ThreadID != 7 {
		t.Fatalf("messages after the upgrade: %+v %v", msgs, err)
	}
	if ms, _ := s.AccountModSeq(ctx, a.ID); ms != 3 {
		t.Errorf("account modseq %d, want the mailboxes' highest, 3", ms)
	}
	search := func(when, needle string, want int) {
		t.Helper()
		uids, err := s.SearchText(ctx, inbox.ID, store.TextQuery{Field: store.TextBody, Needle: needle})
		if err != nil || len(uids) != want {
			t.Errorf("%s: SEARCH BODY %q = %v %v, want %d", when, needle, uids, err, want)
		}
	}
	search("before indexing", "inlinebody", 1)
	search("before indexing", "ilebod", 1)
	refs, _ := s.References(ctx, inbox.ID)
	if !strings.Contains(refs[2], "<r1@x>") {
		t.Errorf("References before indexing: %v", refs)
	}
	st, err := s.Compact(ctx, CompactOptions{Full: true})
	if err != nil || st.Inlined != 1 {
		t.Fatalf("compaction moved %d inline bodies: %v", st.Inlined, err)
	}
	if n, err := s.Reindex(ctx, 0); err != nil || n != 2 {
		t.Fatalf("Reindex: %d %v", n, err)
	}
	search("after indexing", "inlinebody", 1)
	search("after indexing", "ilebod", 1)
	var inline int
	s.rdb.QueryRow(`SELECT COUNT(*) FROM blobs WHERE data IS NOT NULL OR text_state <> 0`).Scan(&inline)
	if inline != 0 {
		t.Errorf("%d bodies still inline or unindexed", inline)
	}
	for i, m := range msgs {
		rc, err := s.OpenBlob(ctx, m.BlobID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		want := []string{oldInlineBody, large}[i]
		if string(got) != want {
			t.Errorf("body %d changed in the upgrade (%d bytes, want %d)", i, len(got), len(want))
		}
	}
	q, err := s.QueueList(ctx)
	if err != nil || len(q) != 1 || q[0].Size != int64(len(oldInlineBody)) || q[0].Skip != 0 {
		t.Errorf("queue after the upgrade: %+v %v", q, err)
	}
}

const oldInlineBody = "Subject: small\r\n\r\nan inlinebody here\r\n"

// oldSchema builds a database as migrations 0001-0007 left it, with what
// the old code wrote.
func oldSchema(t *testing.T, path, largeKey string, largeSize int64) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	names, _ := migrationFS.ReadDir("migrations")
	sort.Slice(names, func(i, j int) bool { return names[i].Name() < names[j].Name() })
	for i, n := range names[:7] {
		body, _ := migrationFS.ReadFile("migrations/" + n.Name())
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, i+1, n.Name())
	}
	for _, q := range []string{
		`INSERT INTO domains (id, name, created_at) VALUES (1, 'example.org', 0)`,
		`INSERT INTO accounts (id, address, domain_id, used_bytes, used_messages, created_at) VALUES (1, 'u@example.org', 1, 0, 2, 0)`,
		`INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highestmodseq, created_at) VALUES (1, 1, 'INBOX', 100, 3, 3, 0)`,
		`INSERT INTO mailboxes (id, account_id, name, uidvalidity, uidnext, highestmodseq, special_use, created_at) VALUES (2, 1, 'Sent', 101, 1, 1, '\Sent', 0)`,
		`INSERT INTO blobs (id, blob_key, size, refs, created_at, data) VALUES (5, 'inlinekey', ` + strconv.Itoa(len(oldInlineBody)) + `, 2, 0, CAST('` + strings.ReplaceAll(oldInlineBody, "\r\n", "'||char(13,10)||'") + `' AS BLOB))`,
		`INSERT INTO blobs (id, blob_key, size, refs, created_at, data) VALUES (6, '` + largeKey + `', ` + strconv.Itoa(int(largeSize)) + `, 1, 0, NULL)`,
		`INSERT INTO messages (id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id) VALUES (7, 1, 1, 2, 0, '', 0, ` + strconv.Itoa(len(oldInlineBody)) + `, 5)`,
		`INSERT INTO messages (id, mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id) VALUES (8, 1, 2, 3, 1, '', 0, ` + strconv.Itoa(int(largeSize)) + `, 6)`,
		`INSERT INTO message_meta (message_id, envelope, bodystructure, preview) VALUES (7, NULL, NULL, ''), (8, NULL, NULL, '')`,
		`INSERT INTO queue_messages (id, blob_id, sender, created_at) VALUES (1, 5, 'u@example.org', 0)`,
		`INSERT INTO queue_recipients (queue_id, rcpt, next_attempt, updated_at) VALUES (1, 'x@remote.test', 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
