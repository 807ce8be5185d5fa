package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"postern/internal/sieve"
	"postern/internal/sievefilter"
	"postern/internal/store"
)

// Limits on an account's Sieve scripts (ManageSieve reports them as
// QUOTA/MAXSIZE and QUOTA/MAXSCRIPTS).
const (
	MaxSieveScriptSize = 256 << 10
	MaxSieveScripts    = 32
	maxSieveName       = 128
	// MaxSieveScriptName is the longest script name, in octets.
	MaxSieveScriptName = maxSieveName
)

// ErrSieveQuotaSize and ErrSieveQuotaScripts are the causes of the quota
// refusals, for faces that answer them in their own terms.
var (
	ErrSieveQuotaSize    = errors.New("sieve script too large")
	ErrSieveQuotaScripts = errors.New("too many sieve scripts")
)

// SieveScript is one script as listed.
type SieveScript struct {
	ID        int64 // the store's, kept across renames
	Name      string
	Active    bool
	Size      int
	UpdatedAt time.Time
}

// SieveError is a script the compiler refused: Line and Column say where.
type SieveError struct {
	Line, Column int
	Msg          string
}

func (e *SieveError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// checkSieve compiles src as accountID's script (0: global). A refusal is
// an *Error of KindInvalid whose cause is a *SieveError.
func (s *Service) checkSieve(ctx context.Context, accountID int64, name string, src []byte) error {
	if len(src) > MaxSieveScriptSize {
		return &Error{Kind: KindInvalid, Field: "script", Value: name, Err: ErrSieveQuotaSize,
			Msg: fmt.Sprintf("script %s is %d bytes, more than the %d allowed", name, len(src), MaxSieveScriptSize)}
	}
	_, err := sievefilter.Compile(ctx, s.st, sieve.Options{MaxScriptSize: MaxSieveScriptSize}, accountID, src)
	if err == nil {
		return nil
	}
	se := &SieveError{Msg: err.Error()}
	var ce *sieve.Error
	if errors.As(err, &ce) {
		se = &SieveError{Line: ce.Line, Column: ce.Column, Msg: ce.Msg}
		if ce.Script != "" {
			se.Msg = "in included script " + ce.Script + ": " + ce.Msg
		}
	}
	return &Error{Kind: KindInvalid, Field: "script", Value: name, Msg: se.Error(), Err: se}
}

// checkSieveName applies RFC 5804 §1.6 to a script name.
func checkSieveName(name string) error {
	bad := name == "" || len(name) > maxSieveName || !utf8.ValidString(name)
	for _, r := range name {
		bad = bad || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}
	if bad {
		return invalid("name", name, nil, "script name %q: give 1 to %d characters, no control characters", name, maxSieveName)
	}
	return nil
}

// SieveScripts lists the account's scripts by name.
func (s *Service) SieveScripts(ctx context.Context, addr string) ([]SieveScript, error) {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return nil, err
	}
	list, err := s.st.SieveScripts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	out := make([]SieveScript, len(list))
	for i, sc := range list {
		out[i] = SieveScript{ID: sc.ID, Name: sc.Name, Active: sc.Active, Size: len(sc.Source), UpdatedAt: sc.UpdatedAt}
	}
	return out, nil
}

// SieveScript returns a script's source.
func (s *Service) SieveScript(ctx context.Context, addr, name string) ([]byte, error) {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return nil, err
	}
	sc, err := s.st.SieveScript(ctx, acct.ID, name)
	if err != nil {
		return nil, storeErr(err, "name", name, "script "+name+" of "+acct.Address)
	}
	return sc.Source, nil
}

// CheckSieveScript compiles src as the account's script without storing it.
func (s *Service) CheckSieveScript(ctx context.Context, addr string, src []byte) error {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	return s.checkSieve(ctx, acct.ID, "(check)", src)
}

// SieveHaveSpace tells whether a script of size bytes could be stored as
// name (replacing a script of that name).
func (s *Service) SieveHaveSpace(ctx context.Context, addr, name string, size int64) error {
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	if err := checkSieveName(name); err != nil {
		return err
	}
	return s.sieveQuota(ctx, acct, name, size)
}

func (s *Service) sieveQuota(ctx context.Context, acct store.Account, name string, size int64) error {
	if size > MaxSieveScriptSize {
		return &Error{Kind: KindInvalid, Field: "script", Value: name, Err: ErrSieveQuotaSize,
			Msg: fmt.Sprintf("a script may have at most %d bytes", MaxSieveScriptSize)}
	}
	list, err := s.st.SieveScripts(ctx, acct.ID)
	if err != nil {
		return err
	}
	for _, sc := range list {
		if sc.Name == name {
			return nil
		}
	}
	if len(list) >= MaxSieveScripts {
		return &Error{Kind: KindConflict, Field: "script", Value: name, Err: ErrSieveQuotaScripts,
			Msg: fmt.Sprintf("%s has %d scripts, the most allowed; delete one first", acct.Address, len(list))}
	}
	return nil
}

// PutSieveScript checks src and stores it as name, replacing a script of
// that name (an active one stays active).
func (s *Service) PutSieveScript(ctx context.Context, addr, name string, src []byte) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	if err := checkSieveName(name); err != nil {
		return err
	}
	if err := s.sieveQuota(ctx, acct, name, int64(len(src))); err != nil {
		return err
	}
	if err := s.checkSieve(ctx, acct.ID, name, src); err != nil {
		return err
	}
	if err := s.st.PutSieveScript(ctx, acct.ID, name, src); err != nil {
		return storeErr(err, "name", name, "script "+name+" of "+acct.Address)
	}
	s.audit(ctx, "sieve.put", acct.Address, "name", name, "bytes", len(src))
	return nil
}

// ActivateSieveScript makes name the script that runs at delivery; ""
// deactivates the account's scripts.
func (s *Service) ActivateSieveScript(ctx context.Context, addr, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	if name != "" {
		// A script stored before an include it names went away must still
		// compile to be activated.
		sc, err := s.st.SieveScript(ctx, acct.ID, name)
		if err != nil {
			return storeErr(err, "name", name, "script "+name+" of "+acct.Address)
		}
		if err := s.checkSieve(ctx, acct.ID, name, sc.Source); err != nil {
			return err
		}
	}
	if err := s.st.SetActiveSieveScript(ctx, acct.ID, name); err != nil {
		return storeErr(err, "name", name, "script "+name+" of "+acct.Address)
	}
	if name == "" {
		s.audit(ctx, "sieve.deactivate", acct.Address)
	} else {
		s.audit(ctx, "sieve.activate", acct.Address, "name", name)
	}
	return nil
}

// DeleteSieveScript deletes an inactive script.
func (s *Service) DeleteSieveScript(ctx context.Context, addr, name string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	err = s.st.DeleteSieveScript(ctx, acct.ID, name)
	if errors.Is(err, store.ErrNotPermitted) {
		return conflict("name", name, err, "script %s of %s is active; deactivate it first", name, acct.Address)
	}
	if err != nil {
		return storeErr(err, "name", name, "script "+name+" of "+acct.Address)
	}
	s.audit(ctx, "sieve.delete", acct.Address, "name", name)
	return nil
}

// RenameSieveScript renames a script; the active one stays active.
func (s *Service) RenameSieveScript(ctx context.Context, addr, oldName, newName string) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	acct, err := s.accountAt(ctx, addr)
	if err != nil {
		return err
	}
	if err := checkSieveName(newName); err != nil {
		return err
	}
	err = s.st.RenameSieveScript(ctx, acct.ID, oldName, newName)
	if errors.Is(err, store.ErrExists) {
		return exists("name", newName, "script "+newName+" of "+acct.Address)
	}
	if err != nil {
		return storeErr(err, "name", oldName, "script "+oldName+" of "+acct.Address)
	}
	s.audit(ctx, "sieve.rename", acct.Address, "name", oldName, "new_name", newName)
	return nil
}

// GlobalSieveScript returns the administrator's script "before" or
// "after".
func (s *Service) GlobalSieveScript(ctx context.Context, which string) ([]byte, error) {
	which = strings.ToLower(strings.TrimSpace(which))
	sc, err := s.st.GlobalSieveScript(ctx, which)
	if err != nil {
		return nil, storeErr(err, "name", which, "global script "+which)
	}
	return sc.Source, nil
}

// PutGlobalSieveScript sets the script that runs for every account before
// ("before") or after ("after") the account's own; nil src removes it.
func (s *Service) PutGlobalSieveScript(ctx context.Context, which string, src []byte) error {
	if err := needActor(ctx); err != nil {
		return err
	}
	which = strings.ToLower(strings.TrimSpace(which))
	if which != store.SieveGlobalBefore && which != store.SieveGlobalAfter {
		return invalid("name", which, nil, "global script %q: say before or after", which)
	}
	if src != nil {
		if err := s.checkSieve(ctx, 0, which, src); err != nil {
			return err
		}
	}
	if err := s.st.PutGlobalSieveScript(ctx, which, src); err != nil {
		return storeErr(err, "name", which, "global script "+which)
	}
	if src == nil {
		s.audit(ctx, "sieve.global.delete", which)
	} else {
		s.audit(ctx, "sieve.global.put", which, "bytes", len(src))
	}
	return nil
}
