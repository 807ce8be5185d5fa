package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"postern/internal/auth"
	"postern/internal/store"
)

// Limits of an account import: the file is read whole before anything is
// checked, and every password costs an argon2id hash.
const (
	MaxImportBytes = 1 << 20
	MaxImportRows  = 1000
	MaxImportLine  = 1024
	// maxImportName bounds the display name column (a JMAP identity's
	// name).
	maxImportName = 200
)

// ImportRow is one account of an import file.
type ImportRow struct {
	Line     int
	Address  string
	Password string
	Quota    string
	Name     string
}

// ImportError is a refused row, or the file itself (Line 0 or the line
// where reading stopped), with the message `postern user add` would give.
type ImportError struct {
	Line    int
	Address string
	Message string
}

// ImportResult is the outcome of an import: every address created (or,
// for a dry run, that would be), or the errors and nothing created.
type ImportResult struct {
	Created []string
	Errors  []ImportError
	DryRun  bool
}

// ImportOptions tune ImportAccounts.
type ImportOptions struct {
	// DryRun checks every row and creates nothing.
	DryRun bool
	// Scope, when set, refuses the rows whose address the caller may not
	// manage (Administrator.CheckAddressScope of a domain administrator).
	Scope func(address string) error
}

// ParseAccountCSV reads an import file: one account a line as
// address,password,quota[,name], optionally a header line naming the
// columns first, blank lines and lines starting with # ignored. Quoting
// is that of RFC 4180 (a password with a comma or quote is quoted). A
// quota is bytes or a size with a unit as `postern user quota` takes it;
// empty is unlimited. It returns the rows, or the errors of the file's
// shape (too large, too many rows, a line too long, a wrong column
// count) with their lines; the rules on the values are ImportAccounts'.
// An error of the whole file (too large, not CSV) comes alone, without
// rows; a row with the wrong number of columns is an error beside the
// other rows.
func ParseAccountCSV(data []byte) ([]ImportRow, []ImportError) {
	if len(data) > MaxImportBytes {
		return nil, []ImportError{{Message: fmt.Sprintf("the file is larger than %d bytes; split it", MaxImportBytes)}}
	}
	if !utf8.Valid(data) {
		return nil, []ImportError{{Line: invalidUTF8Line(data), Message: "the file is not UTF-8 text"}}
	}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(line) > MaxImportLine {
			return nil, []ImportError{{Line: i + 1, Message: fmt.Sprintf("line is longer than %d bytes", MaxImportLine)}}
		}
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	r.ReuseRecord = true
	var rows []ImportRow
	var errs []ImportError
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, append(errs, ImportError{Line: pe.StartLine, Message: "not CSV: " + pe.Err.Error()})
		}
		if err != nil {
			return nil, append(errs, ImportError{Message: err.Error()})
		}
		line, _ := r.FieldPos(0)
		if first && strings.EqualFold(strings.TrimSpace(rec[0]), "address") {
			continue
		}
		if len(rows)+len(errs) >= MaxImportRows {
			return nil, append(errs, ImportError{Line: line, Message: fmt.Sprintf("more than %d accounts; split the file", MaxImportRows)})
		}
		addr := strings.TrimSpace(rec[0])
		if len(rec) < 3 || len(rec) > 4 {
			errs = append(errs, ImportError{Line: line, Address: addr,
				Message: fmt.Sprintf("%d columns, want address,password,quota[,name]", len(rec))})
			continue
		}
		row := ImportRow{Line: line, Address: addr, Password: rec[1], Quota: strings.TrimSpace(rec[2])}
		if len(rec) == 4 {
			row.Name = strings.TrimSpace(rec[3])
		}
		rows = append(rows, row)
	}
	return rows, errs
}

// invalidUTF8Line is the line of the first byte that is not UTF-8.
func invalidUTF8Line(data []byte) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		if !utf8.Valid(line) {
			return i + 1
		}
	}
	return 0
}

// checkedRow is a row that passed every rule, ready to create.
type checkedRow struct {
	ImportRow
	quota Quota
}

// ImportAccounts creates the accounts of an import file (ParseAccountCSV).
// Every row is checked first by the rules of AddAccount and SetQuota, with
// their messages, and against the other rows; if any is refused, nothing
// is created and every refusal is returned with its line. Otherwise all
// are created in one store transaction, each logged as an account.add
// change. The error is for the face's own failures (no actor, the store
// down), never for a row.
func (s *Service) ImportAccounts(ctx context.Context, data []byte, opts ImportOptions) (ImportResult, error) {
	res := ImportResult{Created: []string{}, Errors: []ImportError{}, DryRun: opts.DryRun}
	if err := needActor(ctx); err != nil {
		return res, err
	}
	rows, perrs := ParseAccountCSV(data)
	if len(perrs) > 0 && len(rows) == 0 {
		res.Errors = perrs
		return res, nil
	}
	if len(rows) == 0 {
		res.Errors = []ImportError{{Message: "the file has no accounts (address,password,quota[,name] a line)"}}
		return res, nil
	}
	checked := make([]checkedRow, 0, len(rows))
	seen := map[string]int{}
	for _, row := range rows {
		c, err := s.checkImportRow(ctx, row, opts.Scope)
		if err == nil {
			if prev, dup := seen[c.Address]; dup {
				err = invalid("address", c.Address, nil, "%s is on line %d already", c.Address, prev)
			}
		}
		var ae *Error
		switch {
		case errors.As(err, &ae):
			res.Errors = append(res.Errors, ImportError{Line: row.Line, Address: row.Address, Message: ae.Msg})
			continue
		case err != nil:
			return res, err
		}
		seen[c.Address] = row.Line
		checked = append(checked, c)
	}
	if len(perrs) > 0 || len(res.Errors) > 0 {
		res.Errors = append(res.Errors, perrs...)
		slices.SortStableFunc(res.Errors, func(a, b ImportError) int { return a.Line - b.Line })
		return res, nil
	}
	if opts.DryRun {
		for _, c := range checked {
			res.Created = append(res.Created, c.Address)
		}
		return res, nil
	}
	return s.createImported(ctx, checked, res)
}

// checkImportRow holds one row to the rules of AddAccount and SetQuota,
// and to the caller's scope.
func (s *Service) checkImportRow(ctx context.Context, row ImportRow, scope func(string) error) (checkedRow, error) {
	c := checkedRow{ImportRow: row}
	addr, err := address("address", row.Address)
	if err != nil {
		return c, err
	}
	if scope != nil {
		if err := scope(addr); err != nil {
			return c, err
		}
	}
	if addr, err = s.localAddress(ctx, "address", addr); err != nil {
		return c, err
	}
	c.Address = addr
	if _, _, err := (NewPassword{Given: row.Password}).choose(); err != nil {
		return c, err
	}
	if row.Quota != "" {
		if c.quota, err = ParseQuota(row.Quota, ""); err != nil {
			return c, err
		}
	}
	if err := checkDisplayName(row.Name); err != nil {
		return c, err
	}
	if err := s.refuseAlias(ctx, addr); err != nil {
		return c, err
	}
	taken, err := s.isAccount(ctx, addr)
	if err != nil {
		return c, err
	}
	if taken {
		return c, exists("address", addr, "account "+addr)
	}
	return c, nil
}

// checkDisplayName refuses a name a From header cannot carry.
func checkDisplayName(name string) error {
	if utf8.RuneCountInString(name) > maxImportName {
		return invalid("name", name, nil, "name is longer than %d characters", maxImportName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("name", name, nil, "name must not contain control characters")
		}
	}
	return nil
}

// createImported hashes the passwords (a few at a time: argon2id is
// slow and large) and creates every account in one transaction.
func (s *Service) createImported(ctx context.Context, rows []checkedRow, res ImportResult) (ImportResult, error) {
	batch := make([]store.NewAccount, len(rows))
	errs := make([]error, len(rows))
	sem := make(chan struct{}, max(1, min(4, runtime.NumCPU())))
	var wg sync.WaitGroup
	for i, row := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cred, err := auth.HashPassword(row.Password)
			batch[i], errs[i] = store.NewAccount{Address: row.Address, Credentials: cred, QuotaBytes: row.quota.Bytes}, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	accts, err := s.st.AddAccounts(ctx, batch)
	var be *store.BatchError
	if errors.As(err, &be) {
		// Someone added the address, or removed the domain, since the
		// check: still nothing was created.
		row := rows[be.Index]
		rowErr := storeErr(be.Err, "address", row.Address, "account "+row.Address)
		if KindOf(rowErr) != 0 {
			res.Errors = append(res.Errors, ImportError{Line: row.Line, Address: row.Address, Message: rowErr.Error()})
			return res, nil
		}
	}
	if err != nil {
		return res, err
	}
	for i, a := range accts {
		res.Created = append(res.Created, a.Address)
		s.audit(ctx, "account.add", a.Address, "import_line", rows[i].Line, "quota_bytes", a.QuotaBytes)
		if rows[i].Name != "" {
			s.setDefaultIdentityName(ctx, a.ID, rows[i].Name)
		}
	}
	return res, nil
}

// setDefaultIdentityName names the account's own address in its mail
// (the default JMAP identity, which the webmail sends with). A failure is
// logged: the account exists, only its name is missing.
func (s *Service) setDefaultIdentityName(ctx context.Context, accountID int64, name string) {
	ids, _, err := s.st.Identities(ctx, accountID)
	for _, id := range ids {
		if id.IsDefault && err == nil {
			id.Name = name
			_, err = s.st.UpdateIdentity(ctx, id)
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "imported account's name not set", "account_id", accountID, "err", err)
	}
}
