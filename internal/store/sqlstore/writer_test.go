package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"postern/internal/blob"
	"postern/internal/store"
)

// blockWriter queues an operation that holds the writer until release is
// closed, so that what is queued meanwhile lands in one batch.
func blockWriter(t *testing.T, s *Store) (release chan struct{}, done chan error) {
	t.Helper()
	started := make(chan struct{})
	release = make(chan struct{})
	done = make(chan error, 1)
	go func() {
		done <- s.write(context.Background(), func(ctx context.Context, tx *wtx, e *effects) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	return release, done
}

// waitQueued waits until n operations are queued behind the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.w.ops) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d operations queued", len(s.w.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Operations queued together commit in one transaction, and one failing
// operation rolls back only itself.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	release, blocked := blockWriter(t, s)
	b0, _ := s.Stats()
	names := []string{"a.example", "b.example", "fail.example", "c.example"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO domains (name, created_at) VALUES (?, 0)`, n); err != nil {
					return err
				}
				e.change(store.Change{Kind: store.ChangeMailboxes, AccountID: 7})
				if n == "fail.example" {
					return store.ErrOverQuota
				}
				return nil
			})
		}()
	}
	waitQueued(t, s, len(names))
	ch, cancel := s.Notifier().Subscribe(7)
	defer cancel()
	close(release)
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	// The blocker's batch was counted before b0; the four queued
	// operations share one more.
	if b1, _ := s.Stats(); b1-b0 != 1 {
		t.Errorf("%d batches for four queued operations, want 1", b1-b0)
	}
	for i, n := range names {
		_, err := s.Domain(ctx, n)
		if n == "fail.example" {
			if !errors.Is(errs[i], store.ErrOverQuota) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("failed op: returned %v, domain lookup %v", errs[i], err)
			}
		} else if errs[i] != nil || err != nil {
			t.Errorf("%s: op %v, lookup %v", n, errs[i], err)
		}
	}
	if got := len(ch); got != 3 {
		t.Errorf("%d change events, want 3 (none for the failed op)", got)
	}
}

func TestCancelledBeforeRun(t *testing.T) {
	s := openTest(t)
	release, blocked := blockWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := s.AddDomain(ctx, "late.example"); errc <- err }()
	waitQueued(t, s, 1)
	cancel()
	close(release)
	<-blocked
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled op: %v", err)
	}
	if _, err := s.Domain(context.Background(), "late.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancelled op ran: %v", err)
	}
}

func TestCloseWhileWriting(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.AddDomain(ctx, string(rune('a'+i))+".example")
			if err != nil && !errors.Is(err, store.ErrStoreShutdown) {
				t.Errorf("write during close: %v", err)
			}
		}()
	}
	time.Sleep(2 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The CLI opens the same database while the server runs: each sees the
// other's changes at once, and concurrent writers both succeed.
func TestTwoOpeners(t *testing.T) {
	dir := t.TempDir()
	b, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(dir, "db")
	s1, err := Open(ctx, Options{Path: path, Blobs: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	// Another process has a blob store of its own (its own segment).
	b2, err := blob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, Options{Path: path, Blobs: b2})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s2.AddAccount(ctx, "alice@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Account(ctx, "alice@example.org"); err != nil {
		t.Fatalf("server does not see the CLI's account: %v", err)
	}
	var wg sync.WaitGroup
	uids := make(chan uint32, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := s1
			if i%2 == 1 {
				s = s2
			}
			out, err := s.Deliver(ctx, store.Delivery{Blob: store.NewBlob{Body: store.BytesBody("0123456789")}, InternalDate: time.Now(),
				Targets: []store.DeliveryTarget{{AccountID: a.ID}}})
			if err != nil || out.Targets[0].Err != nil {
				t.Errorf("deliver %d: %v %v", i, err, out)
				return
			}
			uids <- out.Targets[0].UID
		}()
	}
	wg.Wait()
	close(uids)
	seen := map[uint32]bool{}
	for u := range uids {
		if seen[u] {
			t.Errorf("UID %d given twice", u)
		}
		seen[u] = true
	}
	if err := s2.SetDisabled(ctx, "alice@example.org", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s1.Account(ctx, "alice@example.org"); !got.Disabled || got.UsedMessages != 40 {
		t.Errorf("server sees %+v", got)
	}
}

func TestReopenMigratesOnce(t *testing.T) {
	dir := t.TempDir()
	b, _ := blob.Open(filepath.Join(dir, "blobs"))
	ctx := context.Background()
	path := filepath.Join(dir, "db")
	for i := range 2 {
		s, err := Open(ctx, Options{Path: path, Blobs: b})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := s.AddDomain(ctx, "example.org"); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.Domain(ctx, "example.org"); err != nil {
			t.Errorf("after reopen: %v", err)
		}
		var n int
		if err := s.rdb.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n < 1 {
			t.Errorf("schema_migrations: %d %v", n, err)
		}
		var mode string
		s.rdb.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		if mode != "wal" {
			t.Errorf("journal_mode %q", mode)
		}
		s.Close()
	}
}

func TestSweepBlobs(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	commit := func() string {
		w, _ := s.Blobs().Create()
		w.Write([]byte("body"))
		w.Spill() // the sweep is about body files
		k, _, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * time.Hour)
		os.Chtimes(filepath.Join(s.Blobs().Dir(), k[:2], k), old, old)
		return k
	}
	kept, orphan := commit(), commit()
	if err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := insertBlob(ctx, tx, e, blob.Loc{Key: kept, Size: 4}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	st, err := s.SweepBlobs(ctx)
	if err != nil || st.Orphans != 1 {
		t.Fatalf("sweep %+v %v", st, err)
	}
	if _, err := s.Blobs().OpenFile(kept); err != nil {
		t.Error("referenced blob swept")
	}
	if _, err := s.Blobs().OpenFile(orphan); err == nil {
		t.Error("orphan kept")
	}
}

func TestPanickingOpFailsAlone(t *testing.T) {
	s := openTest(t)
	err := s.write(context.Background(), func(ctx context.Context, tx *wtx, e *effects) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO domains (name, created_at) VALUES ('p.example', 0)`); err != nil {
			return err
		}
		panic("bug")
	})
	if err == nil {
		t.Fatal("panicking op succeeded")
	}
	if _, err := s.Domain(context.Background(), "p.example"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("panicking op's change kept: %v", err)
	}
	if _, err := s.AddDomain(context.Background(), "after.example"); err != nil {
		t.Errorf("writer dead after panic: %v", err)
	}
}

// An operation that breaks the shared transaction fails alone: the others
// of its batch are retried one by one and succeed.
func TestPoisonOpFailsAlone(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	release, blocked := blockWriter(t, s)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 1 {
				errs[i] = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
					_, err := tx.ExecContext(ctx, "ROLLBACK") // ends the batch's transaction
					return err
				})
				return
			}
			_, errs[i] = s.AddDomain(ctx, fmt.Sprintf("d%d.example", i))
		}()
	}
	waitQueued(t, s, 3)
	close(release)
	wg.Wait()
	<-blocked
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("errors %v", errs)
	}
	for _, d := range []string{"d0.example", "d2.example"} {
		if _, err := s.Domain(ctx, d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`)
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := OpenDir(ctx, dir, nil); err == nil {
		s.Close()
		t.Fatal("opened a database from a newer version")
	}
}

func TestExpungeDeleted(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	s.AddDomain(ctx, "example.org")
	a, _ := s.AddAccount(ctx, "a@example.org", store.Credentials{})
	for range 4 {
		deliverBytes(t, s, []byte("hello"), store.MessageMeta{}, store.DeliveryTarget{AccountID: a.ID})
	}
	inbox, _ := s.Mailbox(ctx, a.ID, "INBOX")
	if _, err := s.UpdateFlags(ctx, inbox.ID, []uint32{1, 2, 4}, store.FlagUpdate{Op: store.FlagsAdd, Flags: store.FlagDeleted}); err != nil {
		t.Fatal(err)
	}
	removed, _, err := s.ExpungeDeleted(ctx, inbox.ID, []uint32{2, 3})
	if err != nil || len(removed) != 1 || removed[0] != 2 {
		t.Fatalf("UID EXPUNGE 2:3 removed %v %v", removed, err)
	}
	removed, hms, err := s.ExpungeDeleted(ctx, inbox.ID, nil)
	if err != nil || len(removed) != 2 || removed[0] != 1 || removed[1] != 4 {
		t.Fatalf("EXPUNGE removed %v %v", removed, err)
	}
	if mb, _ := s.Mailbox(ctx, a.ID, "INBOX"); mb.HighestModSeq != hms {
		t.Errorf("highest modseq %d, returned %d", mb.HighestModSeq, hms)
	}
	if msgs, _ := s.Messages(ctx, inbox.ID, 1, 0); len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("left %v", msgs)
	}
}

func TestReadsAfterClose(t *testing.T) {
	s := openTest(t)
	s.Close()
	if _, err := s.Domains(context.Background()); err == nil {
		t.Error("read after Close succeeded")
	}
	if _, err := s.Account(context.Background(), "a@example.org"); err == nil {
		t.Error("read after Close succeeded")
	}
}
