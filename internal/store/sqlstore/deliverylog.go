package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"postern/internal/store"
)

// The delivery log (migration 0026). Rows of a delivery or a queue change
// are inserted by that change's own operation, so they ride its commit.

// Observer is told what the writer committed, for metrics. It is called
// from the writer goroutine after each commit and must return quickly.
type Observer interface {
	// Committed: a batch of ops operations committed in d.
	Committed(ops int, d time.Duration)
	// Logged: delivery log rows were committed.
	Logged(events []store.LogEvent)
}

// SetObserver sets the store's Observer; nil removes it.
func (s *Store) SetObserver(o Observer) {
	if o == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&o)
}

func (s *Store) observe() Observer {
	if p := s.observer.Load(); p != nil {
		return *p
	}
	return nil
}

// maxLogDetail bounds what a peer's reply or an error can make us store.
const maxLogDetail = 1000

// insertLog adds one row to the operation's transaction (insertLogs).
func insertLog(ctx context.Context, tx *wtx, e *effects, ev store.LogEvent) error {
	return insertLogs(ctx, tx, e, []store.LogEvent{ev})
}

// insertLogs adds rows to the operation's transaction. They are not
// inserted at once: the writer inserts the rows of every operation of the
// batch that succeeded together, just before the commit (writeLogRows),
// outside the operations' savepoints. The rows are still committed with
// their changes, or not at all, and a batch pays for one INSERT instead of
// one per delivery and for no savepoint journalling of the log's pages.
func insertLogs(_ context.Context, _ *wtx, e *effects, evs []store.LogEvent) error {
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		ev.Sender = strings.ToLower(ev.Sender)
		ev.Rcpt = strings.ToLower(ev.Rcpt)
		ev.MessageID = strings.Trim(ev.MessageID, "<> ")
		if len(ev.Detail) > maxLogDetail {
			ev.Detail = ev.Detail[:maxLogDetail]
		}
		if len(ev.MessageID) > maxLogDetail {
			ev.MessageID = ev.MessageID[:maxLogDetail]
		}
		e.logged = append(e.logged, ev)
	}
	return nil
}

// maxLogInsert is how many rows one INSERT statement takes.
const maxLogInsert = 32

// selfMsg marks a row that is a message of its own (a refusal): its msg is
// its own id.
const selfMsg = -1

// logInsertSQL[n] inserts n rows.
var logInsertSQL = func() []string {
	out := make([]string, maxLogInsert+1)
	for n := 1; n <= maxLogInsert; n++ {
		out[n] = `INSERT INTO delivery_log (id, msg, at, kind, txn_id, message_id, queue_id, source, sender, rcpt, detail, delay_ms) VALUES ` +
			strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),`, n), ",")
	}
	return out
}()

// writeLogRows inserts the delivery log rows of the batch's operations
// that succeeded, in the batch's transaction. Ids are given here, so that
// each operation's rows share the id of its first as their msg.
func writeLogRows(ctx context.Context, tx *wtx, batch []*op) error {
	var last int64
	have := false
	args := make([]any, 0, 12*maxLogInsert)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, logInsertSQL[n], args...)
		args, n = args[:0], 0
		return err
	}
	for _, o := range batch {
		if o.err != nil || len(o.eff.logged) == 0 {
			continue
		}
		if !have {
			// Once per batch: another process (the CLI) may have added rows.
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM delivery_log`).Scan(&last); err != nil {
				return err
			}
			have = true
		}
		first := last + 1
		for i := range o.eff.logged {
			ev := &o.eff.logged[i]
			last++
			ev.ID = last
			switch {
			case ev.Msg == selfMsg:
				ev.Msg = ev.ID
			case ev.Msg <= 0:
				ev.Msg = first
			}
			args = append(args, ev.ID, ev.Msg, ev.Time.UnixMilli(), string(ev.Kind), ev.TxnID, ev.MessageID, ev.QueueID, ev.Source,
				ev.Sender, ev.Rcpt, ev.Detail, ev.Delay.Milliseconds())
			if n++; n == maxLogInsert {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// queueMsg is the msg of the message a queue entry belongs to (its queued
// row), 0 when the log has none.
func queueMsg(ctx context.Context, tx *wtx, queueID int64) (int64, error) {
	var msg int64
	err := tx.QueryRowContext(ctx, `SELECT msg FROM delivery_log WHERE queue_id = ? ORDER BY id LIMIT 1`, queueID).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return msg, err
}

// insertDeliveryLog writes the rows of a delivery: a row tied to a target
// only when that copy was stored, a row tied to a queued copy with its id.
func insertDeliveryLog(ctx context.Context, tx *wtx, e *effects, d store.Delivery, out store.DeliveryOutcome) error {
	rows := make([]store.LogEvent, 0, len(d.Log))
	for _, ev := range d.Log {
		if ev.Target > 0 {
			if ev.Target > len(out.Targets) || out.Targets[ev.Target-1].Err != nil {
				continue
			}
			if ev.Delay == 0 && !d.InternalDate.IsZero() {
				ev.Delay = time.Since(d.InternalDate)
			}
		}
		if ev.Queue > 0 {
			if ev.Queue > len(out.QueueIDs) {
				continue
			}
			ev.QueueID = out.QueueIDs[ev.Queue-1]
		}
		rows = append(rows, ev)
	}
	return insertLogs(ctx, tx, e, rows)
}

// queueLogKind is the log's name for a recipient's outcome.
func queueLogKind(st store.QueueStatus) store.LogKind {
	switch st {
	case store.QueueDelivered:
		return store.LogRelayed
	case store.QueueFailed:
		return store.LogBounced
	}
	return store.LogDeferred
}

// queueLogDetail is what the log keeps of an attempt: the peer and its
// reply or the error.
func queueLogDetail(u store.QueueUpdate) string {
	if u.Peer == "" {
		return u.Error
	}
	return u.Peer + ": " + u.Error
}

// AppendLog implements store.DeliveryLog.
func (s *Store) AppendLog(ctx context.Context, events []store.LogEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := slices.Clone(events)
	for i := range rows {
		rows[i].Msg = selfMsg
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return insertLogs(ctx, tx, e, rows)
	})
}

const logCols = `id, msg, at, kind, txn_id, message_id, queue_id, source, sender, rcpt, detail, delay_ms`

func scanLog(rows *sql.Rows) ([]store.LogEvent, error) {
	defer rows.Close()
	var out []store.LogEvent
	for rows.Next() {
		var ev store.LogEvent
		var at, delay int64
		var kind string
		if err := rows.Scan(&ev.ID, &ev.Msg, &at, &kind, &ev.TxnID, &ev.MessageID, &ev.QueueID, &ev.Source, &ev.Sender, &ev.Rcpt, &ev.Detail, &delay); err != nil {
			return nil, err
		}
		ev.Time, ev.Kind, ev.Delay = time.UnixMilli(at), store.LogKind(kind), time.Duration(delay)*time.Millisecond
		out = append(out, ev)
	}
	return out, rows.Err()
}

// maxLogRows bounds one search; maxLogMessages the messages one search
// or trace follows (a Message-ID that many messages reuse, a busy address).
const (
	maxLogRows     = 1000
	maxLogMessages = 200
	maxTraceMsgs   = 50
)

// SearchLog implements store.DeliveryLog.
func (s *Store) SearchLog(ctx context.Context, q store.LogQuery) ([]store.LogEvent, error) {
	var msgs []int64
	keyed := false
	for _, k := range []string{addrKey(q.Address), midKey(q.MessageID), txnKey(q.TxnID)} {
		if k == "" {
			continue
		}
		ms, err := s.keyMsgs(ctx, k, maxLogMessages)
		if err != nil {
			return nil, err
		}
		if keyed {
			ms = intersect(msgs, ms)
		}
		msgs, keyed = ms, true
	}
	if keyed && len(msgs) == 0 {
		return nil, nil
	}
	var where []string
	var args []any
	if keyed {
		in, a := inList(msgs)
		where = append(where, `msg IN `+in)
		args = append(args, a...)
	}
	if q.QueueID != 0 {
		where = append(where, `queue_id = ?`)
		args = append(args, q.QueueID)
	}
	if !q.Since.IsZero() {
		first, err := s.firstLogID(ctx, q.Since)
		if err != nil {
			return nil, err
		}
		where = append(where, `id >= ?`)
		args = append(args, first)
	}
	if q.Before > 0 {
		where = append(where, `id < ?`)
		args = append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 || limit > maxLogRows {
		limit = maxLogRows
	}
	sqlq := `SELECT ` + logCols + ` FROM delivery_log`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlq += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.rdb.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	return scanLog(rows)
}

// The search keys of delivery_log_keys; "" for an empty value.
func addrKey(a string) string {
	if a = strings.ToLower(strings.TrimSpace(a)); a == "" {
		return ""
	}
	return "a:" + a
}

func midKey(m string) string {
	if m = strings.Trim(strings.TrimSpace(m), "<>"); m == "" {
		return ""
	}
	return "m:" + m
}

func txnKey(t string) string {
	if t = strings.TrimSpace(t); t == "" {
		return ""
	}
	return "t:" + t
}

// keyHash is the 64-bit FNV-1a hash of a search key.
func keyHash(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int64(h.Sum64())
}

func intersect(a, b []int64) []int64 {
	in := make(map[int64]bool, len(a))
	for _, x := range a {
		in[x] = true
	}
	var out []int64
	for _, x := range b {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// logIndexed is the counter of the last row whose keys are indexed.
const logIndexed = "delivery_log_indexed"

// keyMsgs returns the msgs of the messages that carry key, newest first:
// from the key index, and from the rows not indexed yet.
func (s *Store) keyMsgs(ctx context.Context, key string, limit int) ([]int64, error) {
	var cursor int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM counters WHERE name = ?), 0)`, logIndexed).Scan(&cursor); err != nil {
		return nil, err
	}
	val := key[2:]
	var cond string
	var args []any
	switch key[:2] {
	case "t:":
		cond, args = `txn_id = ?`, []any{val}
	case "m:":
		cond, args = `message_id = ?`, []any{val}
	default:
		cond, args = `(sender = ? OR rcpt = ?)`, []any{val, val}
	}
	tail, err := s.logInts(ctx, `SELECT DISTINCT msg FROM delivery_log WHERE id > ? AND `+cond+` ORDER BY msg DESC LIMIT `+strconv.Itoa(limit),
		append([]any{cursor}, args...)...)
	if err != nil {
		return nil, err
	}
	indexed, err := s.indexedKeyMsgs(ctx, keyHash(key), limit)
	if err != nil {
		return nil, err
	}
	out := append(tail, indexed...)
	slices.Sort(out)
	out = slices.Compact(out)
	slices.Reverse(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// logKeyEraShift makes the era of a key (delivery_log_keys.era, migration
// 0036): msg >> logKeyEraShift, about 25,000 messages. New keys go to the
// last era only, so IndexLog dirties at most the pages of one era however
// large the log grows, and a search probes one primary-key range per era.
const logKeyEraShift = 16

// indexedKeyMsgs returns the msgs the key index holds for hash h, newest
// first, at most limit: era by era from the newest, as msgs of a later
// era are all larger.
func (s *Store) indexedKeyMsgs(ctx context.Context, h int64, limit int) ([]int64, error) {
	var first, last sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(era), MAX(era) FROM delivery_log_keys`).Scan(&first, &last); err != nil {
		return nil, err
	}
	var out []int64
	for era := last.Int64; last.Valid && era >= first.Int64 && len(out) < limit; era-- {
		ms, err := s.logInts(ctx, `SELECT msg FROM delivery_log_keys WHERE era = ? AND h = ? ORDER BY msg DESC LIMIT `+strconv.Itoa(limit-len(out)), era, h)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// TraceLog implements store.DeliveryLog.
func (s *Store) TraceLog(ctx context.Context, key string) ([]store.LogEvent, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, invalid("empty trace key")
	}
	var msgs []int64
	for _, k := range []string{txnKey(key), midKey(key)} {
		ms, err := s.keyMsgs(ctx, k, maxTraceMsgs)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, ms...)
	}
	var queueIDs []int64
	if id, err := strconv.ParseInt(key, 10, 64); err == nil && id > 0 {
		ms, err := s.logInts(ctx, `SELECT DISTINCT msg FROM delivery_log WHERE queue_id = ? LIMIT `+strconv.Itoa(maxTraceMsgs), id)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, ms...)
		queueIDs = append(queueIDs, id)
	}
	slices.Sort(msgs)
	msgs = slices.Compact(msgs)
	if len(msgs) > maxTraceMsgs {
		msgs = msgs[len(msgs)-maxTraceMsgs:]
	}
	if len(msgs) > 0 {
		in, inArgs := inList(msgs)
		ids, err := s.logInts(ctx, `SELECT DISTINCT queue_id FROM delivery_log WHERE msg IN `+in+` AND queue_id <> 0`, inArgs...)
		if err != nil {
			return nil, err
		}
		queueIDs = append(queueIDs, ids...)
	}
	if len(msgs) == 0 && len(queueIDs) == 0 {
		return nil, store.ErrNotFound
	}
	var conds []string
	var condArgs []any
	if len(msgs) > 0 {
		in, a := inList(msgs)
		conds = append(conds, `msg IN `+in)
		condArgs = append(condArgs, a...)
	}
	if len(queueIDs) > 0 {
		in, a := inList(queueIDs)
		conds = append(conds, `queue_id IN `+in)
		condArgs = append(condArgs, a...)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+logCols+` FROM delivery_log WHERE `+strings.Join(conds, ` OR `)+
		` ORDER BY id LIMIT `+strconv.Itoa(maxLogRows), condArgs...)
	if err != nil {
		return nil, err
	}
	out, err := scanLog(rows)
	if err == nil && len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out, err
}

func (s *Store) logInts(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// maxKeyInsert is how many keys one INSERT statement takes.
const maxKeyInsert = 128

// keyInsertSQL[n] inserts n keys.
var keyInsertSQL = func() []string {
	out := make([]string, maxKeyInsert+1)
	for n := 1; n <= maxKeyInsert; n++ {
		out[n] = `INSERT INTO delivery_log_keys (era, h, msg) VALUES ` + strings.TrimSuffix(strings.Repeat(`(?, ?, ?),`, n), ",") +
			` ON CONFLICT DO NOTHING`
	}
	return out
}()

// IndexLog implements store.DeliveryLog: one operation adds the keys of
// the next rows, so the random index pages are written once per batch of
// rows instead of once per message.
func (s *Store) IndexLog(ctx context.Context, limit int) (int, error) {
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		n = 0
		var cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM counters WHERE name = ?), 0)`, logIndexed).Scan(&cursor); err != nil {
			return err
		}
		type keyed struct {
			id, msg                int64
			txn, mid, sender, rcpt string
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, msg, txn_id, message_id, sender, rcpt FROM delivery_log WHERE id > ? ORDER BY id LIMIT `+strconv.Itoa(limit), cursor)
		if err != nil {
			return err
		}
		var batch []keyed
		for rows.Next() {
			var k keyed
			if err := rows.Scan(&k.id, &k.msg, &k.txn, &k.mid, &k.sender, &k.rcpt); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		// Each key once per message: a delivery's rows repeat its
		// transaction id and sender.
		type pair struct{ h, msg int64 }
		seen := make(map[pair]bool, 4*len(batch))
		args := make([]any, 0, 3*maxKeyInsert)
		flush := func() error {
			if len(args) == 0 {
				return nil
			}
			_, err := tx.ExecContext(ctx, keyInsertSQL[len(args)/3], args...)
			args = args[:0]
			return err
		}
		for _, k := range batch {
			for _, key := range []string{txnKey(k.txn), midKey(k.mid), addrKey(k.sender), addrKey(k.rcpt)} {
				if key == "" {
					continue
				}
				p := pair{keyHash(key), k.msg}
				if seen[p] {
					continue
				}
				seen[p] = true
				if args = append(args, p.msg>>logKeyEraShift, p.h, p.msg); len(args) == 3*maxKeyInsert {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		n = len(batch)
		_, err = tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
			logIndexed, batch[len(batch)-1].id)
		return err
	})
	return n, err
}

// firstLogID is an id such that the rows from it on are those at or
// after t. Rows are inserted in time order, so a binary search
// over ids finds it in a few point reads, without an index on the time.
func (s *Store) firstLogID(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT MIN(id), MAX(id) FROM delivery_log`).Scan(&lo, &hi); err != nil {
		return 0, err
	}
	if !lo.Valid {
		return 1, nil
	}
	l, h := lo.Int64, hi.Int64+1
	ms := t.UnixMilli()
	for l < h {
		mid := l + (h-l)/2
		var id, at int64
		err := s.rdb.QueryRowContext(ctx, `SELECT id, at FROM delivery_log WHERE id >= ? ORDER BY id LIMIT 1`, mid).Scan(&id, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return h, nil
		}
		if err != nil {
			return 0, err
		}
		if at >= ms {
			// Every row from mid on is recent enough: the start is mid or before.
			h = mid
		} else {
			l = id + 1
		}
	}
	return l, nil
}

// PruneLog implements store.DeliveryLog.
func (s *Store) PruneLog(ctx context.Context, before time.Time, limit int) (int, error) {
	cut, err := s.firstLogID(ctx, before)
	if err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = 10000
	}
	var n int64
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM delivery_log WHERE id IN (SELECT id FROM delivery_log WHERE id < ? ORDER BY id LIMIT ?)`, cut, limit)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		// Whole eras by the primary key, then the older part of the era cut falls in.
		era := cut >> logKeyEraShift
		if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_log_keys WHERE era < ?`, era); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM delivery_log_keys WHERE era = ? AND msg < ?`, era, cut)
		return err
	})
	return int(n), err
}

// LogCounts implements store.DeliveryLog.
func (s *Store) LogCounts(ctx context.Context, since time.Time) ([]store.LogCount, error) {
	first, err := s.firstLogID(ctx, since)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT at / 3600000, kind, COUNT(*) FROM delivery_log WHERE id >= ? AND at >= ?
		GROUP BY at / 3600000, kind ORDER BY 1, 2`, first, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: log counts: %w", err)
	}
	defer rows.Close()
	var out []store.LogCount
	for rows.Next() {
		var h, n int64
		var kind string
		if err := rows.Scan(&h, &kind, &n); err != nil {
			return nil, err
		}
		out = append(out, store.LogCount{Hour: time.UnixMilli(h * 3600000).UTC(), Kind: store.LogKind(kind), N: n})
	}
	return out, rows.Err()
}

// Ping tells whether the store answers: a read, and the writer running
// (a closed store fails), for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.closed:
		return store.ErrStoreShutdown
	default:
	}
	var one int
	return s.rdb.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}
