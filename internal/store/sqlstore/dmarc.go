package sqlstore

import (
	"context"
	"strings"
	"time"

	"postern/internal/store"
)

var _ store.DMARCCounts = (*Store)(nil)

// AddDMARCCounts implements store.DMARCCounts (migrations 0032, 0035).
func (s *Store) AddDMARCCounts(ctx context.Context, counts []store.DMARCCount) error {
	if len(counts) == 0 {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		for _, c := range counts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dmarc_counts (day, header_from, source_ip, disposition, dkim, spf,
					spf_domain, spf_scope, spf_result, dkim_results, messages)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (day, header_from, source_ip, disposition, dkim, spf, spf_domain, spf_scope, spf_result, dkim_results)
				DO UPDATE SET messages = dmarc_counts.messages + excluded.messages`,
				c.Day.UTC().Unix(), c.HeaderFrom, c.SourceIP, c.Disposition, c.DKIM, c.SPF,
				c.SPFDomain, c.SPFScope, c.SPFResult, c.DKIMResults, c.Messages); err != nil {
				return err
			}
		}
		return nil
	})
}

// DMARCCounts implements store.DMARCCounts.
func (s *Store) DMARCCounts(ctx context.Context, since time.Time) ([]store.DMARCCount, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT day, header_from, source_ip, disposition, dkim, spf,
			spf_domain, spf_scope, spf_result, dkim_results, messages
		FROM dmarc_counts WHERE day >= ?
		ORDER BY day, header_from, source_ip, disposition, dkim, spf, spf_domain, spf_scope, spf_result, dkim_results`, since.UTC().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DMARCCount
	for rows.Next() {
		var c store.DMARCCount
		var day int64
		if err := rows.Scan(&day, &c.HeaderFrom, &c.SourceIP, &c.Disposition, &c.DKIM, &c.SPF,
			&c.SPFDomain, &c.SPFScope, &c.SPFResult, &c.DKIMResults, &c.Messages); err != nil {
			return nil, err
		}
		c.Day = time.Unix(day, 0).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkDMARCReportDone implements store.DMARCCounts.
func (s *Store) MarkDMARCReportDone(ctx context.Context, d store.DMARCReportDone) (bool, error) {
	var fresh bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dmarc_reports_done (day, domain, report_id, done_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, d.Day.UTC().Unix(), strings.ToLower(d.Domain), d.ReportID, now())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, err
}

// DMARCReportsDone implements store.DMARCCounts.
func (s *Store) DMARCReportsDone(ctx context.Context, since time.Time) ([]store.DMARCReportDone, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT day, domain, report_id FROM dmarc_reports_done WHERE day >= ? ORDER BY day, domain`,
		since.UTC().Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.DMARCReportDone
	for rows.Next() {
		var d store.DMARCReportDone
		var day int64
		if err := rows.Scan(&day, &d.Domain, &d.ReportID); err != nil {
			return nil, err
		}
		d.Day = time.Unix(day, 0).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDMARCCountsBefore implements store.DMARCCounts.
func (s *Store) DeleteDMARCCountsBefore(ctx context.Context, day time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM dmarc_counts WHERE day < ?`, day.UTC().Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM dmarc_reports_done WHERE day < ?`, day.UTC().Unix())
		return err
	})
}
