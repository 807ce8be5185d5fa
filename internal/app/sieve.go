package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"postern/internal/admin"
	"postern/internal/managesieve"
	"postern/internal/store"
)

// srsSecret reads the SRS key, making a random one on first start.
func srsSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 16 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sieve.srs_secret_file: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("sieve.srs_secret_file: %w", err)
	}
	return key, nil
}

// sieveScripts is the admin service as ManageSieve sees it: the rules stay
// in admin; this maps accounts and errors.
type sieveScripts struct {
	svc    *admin.Service
	dir    store.Directory
	filter interface{ Forget(accountID int64) }
}

// changed makes a change apply to the next delivery at once.
func (s sieveScripts) changed(accountID int64, err error) error {
	if err == nil {
		s.filter.Forget(accountID)
	}
	return scriptErr(err)
}

var _ managesieve.Scripts = sieveScripts{}

// as returns the context of a change made by the account itself, and its
// address.
func (s sieveScripts) as(ctx context.Context, accountID int64) (context.Context, string, error) {
	acct, err := s.dir.AccountByID(ctx, accountID)
	if err != nil {
		return ctx, "", err
	}
	return admin.WithActor(ctx, admin.Actor{Name: "managesieve:" + acct.Address}), acct.Address, nil
}

// scriptErr maps the admin service's refusals to ManageSieve's.
func scriptErr(err error) error {
	var se *admin.SieveError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return &managesieve.InvalidScriptError{Msg: se.Error()}
	case errors.Is(err, admin.ErrSieveQuotaSize):
		return managesieve.ErrQuotaSize
	case errors.Is(err, admin.ErrSieveQuotaScripts):
		return managesieve.ErrQuotaScripts
	case admin.KindOf(err) == admin.KindNotFound:
		return managesieve.ErrNotFound
	case admin.KindOf(err) == admin.KindExists:
		return managesieve.ErrExists
	case admin.KindOf(err) == admin.KindConflict && errors.Is(err, store.ErrNotPermitted):
		return managesieve.ErrActive
	case admin.KindOf(err) == admin.KindInvalid:
		var ae *admin.Error
		if errors.As(err, &ae) && ae.Field == "name" {
			return managesieve.ErrInvalidName
		}
		return &managesieve.InvalidScriptError{Msg: strings.TrimSpace(err.Error())}
	}
	return err
}

func (s sieveScripts) ListScripts(ctx context.Context, accountID int64) ([]managesieve.ScriptInfo, error) {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return nil, err
	}
	list, err := s.svc.SieveScripts(ctx, addr)
	out := make([]managesieve.ScriptInfo, len(list))
	for i, sc := range list {
		out[i] = managesieve.ScriptInfo{Name: sc.Name, Active: sc.Active}
	}
	return out, scriptErr(err)
}

func (s sieveScripts) GetScript(ctx context.Context, accountID int64, name string) ([]byte, error) {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return nil, err
	}
	src, err := s.svc.SieveScript(ctx, addr, name)
	return src, scriptErr(err)
}

func (s sieveScripts) PutScript(ctx context.Context, accountID int64, name string, src []byte) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return s.changed(accountID, s.svc.PutSieveScript(ctx, addr, name, src))
}

func (s sieveScripts) CheckScript(ctx context.Context, accountID int64, src []byte) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return scriptErr(s.svc.CheckSieveScript(ctx, addr, src))
}

func (s sieveScripts) SetActive(ctx context.Context, accountID int64, name string) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return s.changed(accountID, s.svc.ActivateSieveScript(ctx, addr, name))
}

func (s sieveScripts) DeleteScript(ctx context.Context, accountID int64, name string) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return s.changed(accountID, s.svc.DeleteSieveScript(ctx, addr, name))
}

func (s sieveScripts) RenameScript(ctx context.Context, accountID int64, oldName, newName string) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return s.changed(accountID, s.svc.RenameSieveScript(ctx, addr, oldName, newName))
}

func (s sieveScripts) HaveSpace(ctx context.Context, accountID int64, name string, size int64) error {
	ctx, addr, err := s.as(ctx, accountID)
	if err != nil {
		return err
	}
	return scriptErr(s.svc.SieveHaveSpace(ctx, addr, name, size))
}
