package sqlstore

import (
	"context"
	"time"

	"postern/internal/store"
)

var _ store.DMARCCounts = (*Store)(nil)

// AddDMARCCounts implements store.DMARCCounts (migration 0032).
func (s *Store) AddDMARCCounts(ctx context.Context, counts []store.DMARCCount) error {
	if len(counts) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		for _, c := range counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dmarc_counts (day, header_from, source_ip, disposition, dkim, spf, messages)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (day, header_from, source_ip, disposition, dkim, spf) DO UPDATE SET messages = dmarc_counts.messages + excluded.messages`,
				c.Day.UTC().Unix(), c.HeaderFrom, c.SourceIP, c.Disposition, c.DKIM, c.SPF, c.Messages); err != nil {
				return err
			}
		}
		return nil
	})
}

// DMARCCounts implements store.DMARCCounts.
func (s *Store) DMARCCounts(ctx context.Context, since time.Time) ([]store.DMARCCount, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT day, header_from, source_ip, disposition, dkim, spf, messages
		FROM dmarc_counts WHERE day >= ? ORDER BY day, header_from, source_ip, disposition, dkim, spf`, since.UTC().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DMARCCount
	for rows.Next() {
		var c store.DMARCCount
		var day int64
		if err := rows.Scan(&day, &c.HeaderFrom, &c.SourceIP, &c.Disposition, &c.DKIM, &c.SPF, &c.Messages); err != nil {
			return nil, err
		}
		c.Day = time.Unix(day, 0).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
