package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"postern/internal/store"
)

// The key index is led by an era of msg ids (migration 0036): a search
// must find the keys of every era, newest first, and pruning must drop the
// keys of whole eras and of the older part of the era it cuts into.
func TestDeliveryLogKeysAcrossEras(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	// Rows at era starts plus 10 for eras 0, 1 and 2, with a filler row
	// before each so that the ids (MAX(id) + 1) jump to the next era.
	var ids []int64
	for era := int64(0); era < 3; era++ {
		filler := era<<logKeyEraShift + 10
		at := time.Now()
		if era < 2 { // rows stay in time order: pruning searches them by time
			at = old
		}
		err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO delivery_log (id, msg, at, kind) VALUES (?, ?, ?, ?)`,
				filler, filler, at.UnixMilli(), string(store.LogRejected))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := s.AppendLog(ctx, []store.LogEvent{{Kind: store.LogRejected, TxnID: fmt.Sprintf("tx-%d-%d", era, i),
				Sender: "same@x.test", Rcpt: "nobody@example.org"}}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, filler+1+int64(i))
		}
	}
	for {
		n, err := s.IndexLog(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	var eras int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(DISTINCT era) FROM delivery_log_keys`).Scan(&eras); err != nil || eras != 3 {
		t.Fatalf("keys in %d eras (%v), want 3", eras, err)
	}
	rows, err := s.SearchLog(ctx, store.LogQuery{Address: "same@x.test"})
	if err != nil || len(rows) != len(ids) {
		t.Fatalf("search by sender: %v, %d rows, want %d", err, len(rows), len(ids))
	}
	for i, r := range rows {
		if want := ids[len(ids)-1-i]; r.ID != want {
			t.Errorf("row %d: id %d, want %d (newest first across eras)", i, r.ID, want)
		}
	}
	if rows, err := s.SearchLog(ctx, store.LogQuery{Address: "same@x.test", Limit: 3}); err != nil || len(rows) != 3 || rows[2].ID != ids[3] {
		t.Errorf("search with limit 3: %v %+v", err, rows)
	}
	for i, id := range ids {
		era := id >> logKeyEraShift
		trace, err := s.TraceLog(ctx, fmt.Sprintf("tx-%d-%d", era, i%2))
		if err != nil || len(trace) != 1 || trace[0].ID != id {
			t.Errorf("trace of row %d: %v %+v", id, err, trace)
		}
	}

	// Make era 0 and the first row of era 1 old, then prune: the cut falls
	// inside era 1.
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		_, err := tx.ExecContext(ctx, `UPDATE delivery_log SET at = ? WHERE id <= ?`, old.UnixMilli(), ids[2])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneLog(ctx, time.Now().Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	var left, oldest int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*), MIN(msg) FROM delivery_log_keys`).Scan(&left, &oldest); err != nil {
		t.Fatal(err)
	}
	if oldest != ids[3] {
		t.Errorf("after pruning, oldest key msg %d, want %d", oldest, ids[3])
	}
	rows, err = s.SearchLog(ctx, store.LogQuery{Address: "same@x.test"})
	if err != nil || len(rows) != 3 || rows[2].ID != ids[3] {
		t.Errorf("search after pruning: %v %+v", err, rows)
	}
}

// Migration 0036 moves the keys of an existing log to the era table: a
// database with keys in the old (h, msg) table finds them after the
// upgrade.
func TestDeliveryLogKeysMigrateToEras(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 2 {
		if err := s.AppendLog(ctx, []store.LogEvent{{Kind: store.LogRejected, TxnID: fmt.Sprintf("old-%d", i), Sender: "old@x.test"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Back to the schema before 0036, its keys written the old way.
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		for _, q := range []string{
			`DROP TABLE delivery_log_keys`,
			`CREATE TABLE delivery_log_keys (h BIGINT NOT NULL, msg BIGINT NOT NULL, PRIMARY KEY (h, msg)) WITHOUT ROWID`,
			`CREATE INDEX delivery_log_keys_msg ON delivery_log_keys(msg)`,
			`DELETE FROM schema_migrations WHERE version = 36`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, txn_id FROM delivery_log ORDER BY id`)
		if err != nil {
			return err
		}
		type row struct {
			id  int64
			txn string
		}
		var rs []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.txn); err != nil {
				rows.Close()
				return err
			}
			rs = append(rs, r)
		}
		rows.Close()
		for _, r := range rs {
			ids = append(ids, r.id)
			for _, k := range []string{txnKey(r.txn), addrKey("old@x.test")} {
				if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_log_keys (h, msg) VALUES (?, ?)`, keyHash(k), r.id); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
			logIndexed, rs[len(rs)-1].id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM delivery_log_keys WHERE era = msg >> 16`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("keys after the migration: %d (%v), want 4 with their era", n, err)
	}
	rows, err := s.SearchLog(ctx, store.LogQuery{Address: "old@x.test"})
	if err != nil || len(rows) != 2 || rows[0].ID != ids[1] {
		t.Errorf("search after the migration: %v %+v", err, rows)
	}
	if trace, err := s.TraceLog(ctx, "old-0"); err != nil || len(trace) != 1 || trace[0].ID != ids[0] {
		t.Errorf("trace after the migration: %v %+v", err, trace)
	}
}
