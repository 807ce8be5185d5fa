package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"postern/internal/store"
)

// Outbound transport security and reports (migration 0033).

var (
	_ store.MTASTSCache = (*Store)(nil)
	_ store.TLSResults  = (*Store)(nil)
	_ store.Reports     = (*Store)(nil)
)

// MTASTSPolicy implements store.MTASTSCache.
func (s *Store) MTASTSPolicy(ctx context.Context, domain string) (store.MTASTSPolicy, error) {
	p := store.MTASTSPolicy{Domain: strings.ToLower(domain)}
	var fetched, expires int64
	err := s.rdb.QueryRowContext(ctx, `SELECT policy_id, body, fetched_at, expires_at FROM mta_sts_policies WHERE domain = ?`,
		p.Domain).Scan(&p.ID, &p.Body, &fetched, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return p, store.ErrNotFound
	}
	p.FetchedAt, p.ExpiresAt = time.Unix(fetched, 0), time.Unix(expires, 0)
	return p, err
}

// PutMTASTSPolicy implements store.MTASTSCache.
func (s *Store) PutMTASTSPolicy(ctx context.Context, p store.MTASTSPolicy) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mta_sts_policies (domain, policy_id, body, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, body = excluded.body,
			fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
			strings.ToLower(p.Domain), p.ID, p.Body, p.FetchedAt.Unix(), p.ExpiresAt.Unix())
		return err
	})
}

// AddTLSResult implements store.TLSResults.
func (s *Store) AddTLSResult(ctx context.Context, r store.TLSResult) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tls_results (day, policy_domain, policy_type, policy_string, mx_host, receiving_ip, result_type, sessions)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, policy_domain, policy_type, policy_string, mx_host, receiving_ip, result_type)
			DO UPDATE SET sessions = tls_results.sessions + excluded.sessions`,
			r.Day, strings.ToLower(r.PolicyDomain), r.PolicyType, r.PolicyString, strings.ToLower(r.MXHost), r.ReceivingIP, r.ResultType, r.Sessions)
		return err
	})
}

// TLSResults implements store.TLSResults.
func (s *Store) TLSResults(ctx context.Context, day string) ([]store.TLSResult, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT day, policy_domain, policy_type, policy_string, mx_host, receiving_ip, result_type, sessions
		FROM tls_results WHERE day = ? ORDER BY policy_domain, policy_type, policy_string, result_type, mx_host, receiving_ip`, day)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TLSResult
	for rows.Next() {
		var r store.TLSResult
		if err := rows.Scan(&r.Day, &r.PolicyDomain, &r.PolicyType, &r.PolicyString, &r.MXHost, &r.ReceivingIP, &r.ResultType, &r.Sessions); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkTLSReportSent implements store.TLSResults.
func (s *Store) MarkTLSReportSent(ctx context.Context, day, domain string) (bool, error) {
	var fresh bool
	err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tls_reports_sent (day, domain, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			day, strings.ToLower(domain), now())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh, err
}

// DeleteTLSResultsBefore implements store.TLSResults.
func (s *Store) DeleteTLSResultsBefore(ctx context.Context, day string) error {
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tls_results WHERE day < ?`, day); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tls_reports_sent WHERE day < ?`, day)
		return err
	})
}

// maxReportJSON bounds what one received report can make us store.
const maxReportJSON = 1 << 20

// AddReport implements store.Reports.
func (s *Store) AddReport(ctx context.Context, r store.Report) (int64, error) {
	if r.Kind != store.ReportTLS && r.Kind != store.ReportDMARC {
		return 0, invalid("report kind %q", r.Kind)
	}
	if len(r.JSON) > maxReportJSON {
		return 0, invalid("report of %d bytes", len(r.JSON))
	}
	var id int64
	err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO received_reports (kind, domain, org_name, report_id, begin_at, end_at, received_at, sender, total, failed, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			string(r.Kind), strings.ToLower(r.Domain), r.OrgName, r.ReportID, r.Begin.Unix(), r.End.Unix(), r.Received.Unix(),
			r.From, r.Total, r.Failed, r.JSON)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmpErr(err, store.ErrExists)
		}
		id, err = res.LastInsertId()
		return err
	})
	return id, err
}

// Reports implements store.Reports.
func (s *Store) Reports(ctx context.Context, kind store.ReportKind, domains []string, limit int) ([]store.Report, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT id, kind, domain, org_name, report_id, begin_at, end_at, received_at, sender, total, failed, body
		FROM received_reports WHERE kind = ?`
	args := []any{string(kind)}
	if domains != nil {
		if len(domains) == 0 {
			return nil, nil
		}
		q += ` AND domain IN (?` + strings.Repeat(`, ?`, len(domains)-1) + `)`
		for _, d := range domains {
			args = append(args, strings.ToLower(d))
		}
	}
	rows, err := s.rdb.QueryContext(ctx, q+` ORDER BY received_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Report
	for rows.Next() {
		var r store.Report
		var kind string
		var begin, end, received int64
		if err := rows.Scan(&r.ID, &kind, &r.Domain, &r.OrgName, &r.ReportID, &begin, &end, &received, &r.From, &r.Total, &r.Failed, &r.JSON); err != nil {
			return nil, err
		}
		r.Kind = store.ReportKind(kind)
		r.Begin, r.End, r.Received = time.Unix(begin, 0).UTC(), time.Unix(end, 0).UTC(), time.Unix(received, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
