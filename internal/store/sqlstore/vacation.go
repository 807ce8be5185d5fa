package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"postern/internal/store"
)

var _ store.VacationStore = (*Store)(nil)

// Vacation implements store.VacationStore.
func (s *Store) Vacation(ctx context.Context, accountID int64) (store.Vacation, error) {
	return readVacation(ctx, s.rdb, accountID)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readVacation(ctx context.Context, db queryRower, accountID int64) (store.Vacation, error) {
	var v store.Vacation
	var from, to sql.NullInt64
	var subject, text, html sql.NullString
	var updated int64
	err := db.QueryRowContext(ctx, `SELECT enabled, from_date, to_date, subject, text_body, html_body, version, updated_at
		FROM vacation_responses WHERE account_id = ?`, accountID).
		Scan(&v.Enabled, &from, &to, &subject, &text, &html, &v.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, accountID).Scan(&n); err != nil || n == 0 {
			return store.Vacation{}, cmpErr(err, store.ErrNotFound)
		}
		return store.Vacation{}, nil
	}
	if err != nil {
		return store.Vacation{}, err
	}
	if from.Valid {
		v.From = time.Unix(from.Int64, 0).UTC()
	}
	if to.Valid {
		v.To = time.Unix(to.Int64, 0).UTC()
	}
	v.Subject, v.TextBody, v.HTMLBody = nullStr(subject), nullStr(text), nullStr(html)
	v.UpdatedAt = time.Unix(updated, 0).UTC()
	return v, nil
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

// PutVacation implements store.VacationStore.
func (s *Store) PutVacation(ctx context.Context, accountID int64, v store.Vacation) (store.Vacation, error) {
	var out store.Vacation
	err := s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, accountID).Scan(&n); err != nil || n == 0 {
			return cmpErr(err, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vacation_responses
			(account_id, enabled, from_date, to_date, subject, text_body, html_body, version, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled, from_date = excluded.from_date,
				to_date = excluded.to_date, subject = excluded.subject, text_body = excluded.text_body,
				html_body = excluded.html_body, version = vacation_responses.version + 1, updated_at = excluded.updated_at`,
			accountID, v.Enabled, nullTime(v.From), nullTime(v.To), v.Subject, v.TextBody, v.HTMLBody, now()); err != nil {
			return err
		}
		var err error
		out, err = readVacation(ctx, tx, accountID)
		return err
	})
	return out, err
}
