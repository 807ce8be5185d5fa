package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Greylisting's triplets (antispam.GreylistStore). The writes go through
// the group-committing writer like every other, so a triplet that was
// told "try again" is on disk before the client hears it.

// maxGreylistText bounds each part of a triplet: an address is at most
// 256 octets (RFC 5321 §4.5.3.1.3), with room for a network.
const maxGreylistText = 512

// GreylistGet returns a triplet's times; found is false for a new one.
func (s *Store) GreylistGet(ctx context.Context, network, sender, rcpt string) (firstSeen, passUntil time.Time, found bool, err error) {
	var first, pass int64
	err = s.rdb.QueryRowContext(ctx, `SELECT first_seen, pass_until FROM greylist
		WHERE network = ? AND sender = ? AND rcpt = ?`, network, sender, rcpt).Scan(&first, &pass)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, time.Time{}, false, err
	}
	firstSeen = time.Unix(first, 0)
	if pass != 0 {
		passUntil = time.Unix(pass, 0)
	}
	return firstSeen, passUntil, true, nil
}

// GreylistPut writes a triplet's times; a zero passUntil: not passed.
func (s *Store) GreylistPut(ctx context.Context, network, sender, rcpt string, firstSeen, passUntil time.Time) error {
	if len(network) > maxGreylistText || len(sender) > maxGreylistText || len(rcpt) > maxGreylistText {
		return invalid("greylist triplet too long")
	}
	var pass int64
	if !passUntil.IsZero() {
		pass = passUntil.Unix()
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO greylist (network, sender, rcpt, first_seen, pass_until)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (network, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, pass_until = excluded.pass_until`,
			network, sender, rcpt, firstSeen.Unix(), pass)
		return err
	})
}

// GreylistPassed counts the network's triplets whose pass runs at now
// (the primary key's prefix is the network, so this reads one range).
func (s *Store) GreylistPassed(ctx context.Context, network string, now time.Time) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM greylist WHERE network = ? AND pass_until > ?`,
		network, now.Unix()).Scan(&n)
	return n, err
}

// GreylistPrune deletes the triplets that never passed and were first
// seen before staleBefore, and those whose pass ended before now.
func (s *Store) GreylistPrune(ctx context.Context, staleBefore, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM greylist
			WHERE (pass_until = 0 AND first_seen < ?) OR (pass_until <> 0 AND pass_until < ?)`,
			staleBefore.Unix(), now.Unix())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
