package sqlstore

import (
	"context"
	"strings"

	"postern/internal/store"
)

// maxAliasDestinations bounds one alias's expansion.
const maxAliasDestinations = 1000

// AddAlias implements store.Directory. Destinations are lower-cased and
// de-duplicated, in the order given.
func (s *Store) AddAlias(ctx context.Context, source string, destinations []string) error {
	src, domain, err := normAddress(source)
	if err != nil {
		return err
	}
	if len(destinations) == 0 || len(destinations) > maxAliasDestinations {
		return invalid("alias %s: %d destinations", src, len(destinations))
	}
	var dests []string
	seen := map[string]bool{}
	for _, d := range destinations {
		nd, _, err := normAddress(d)
		if err != nil {
			return err
		}
		if !seen[nd] {
			seen[nd] = true
			dests = append(dests, nd)
		}
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		did, err := domainID(ctx, tx, domain)
		if err != nil {
			return err
		}
		if taken, err := addressTaken(ctx, tx, src); err != nil || taken {
			return cmpErr(err, store.ErrExists)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO aliases (source, domain_id, destinations, created_at) VALUES (?, ?, ?, ?)`,
			src, did, strings.Join(dests, "\n"), now())
		return err
	})
	if err == nil {
		s.log.Info("alias added", "alias", src, "destinations", len(dests))
	}
	return err
}

func scanAlias(r scanner) (store.Alias, error) {
	var a store.Alias
	var d string
	err := r.Scan(&a.Source, &d)
	if d != "" {
		a.Destinations = strings.Split(d, "\n")
	}
	return a, err
}

// Alias implements store.Directory.
func (s *Store) Alias(ctx context.Context, source string) (store.Alias, error) {
	src, _, err := normAddress(source)
	if err != nil {
		return store.Alias{}, store.ErrNotFound
	}
	a, err := scanAlias(s.rdb.QueryRowContext(ctx, `SELECT source, destinations FROM aliases WHERE source = ?`, src))
	return a, notFound(err)
}

// Aliases implements store.Directory.
func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT source, destinations FROM aliases ORDER BY source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Alias
	for rows.Next() {
		a, err := scanAlias(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteAlias implements store.Directory.
func (s *Store) DeleteAlias(ctx context.Context, source string) error {
	src, _, err := normAddress(source)
	if err != nil {
		return store.ErrNotFound
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx, e *effects) error {
		return execOne(ctx, tx, `DELETE FROM aliases WHERE source = ?`, src)
	})
	if err == nil {
		s.log.Info("alias deleted", "alias", src)
	}
	return err
}
