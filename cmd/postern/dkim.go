package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"postern/internal/deliver"
	"postern/internal/dkim"
	"postern/internal/store"
)

// dkimKeys finds the DKIM key storage behind st.
func dkimKeys(st store.Store) (store.DKIMKeys, error) {
	ks, ok := st.(store.DKIMKeys)
	if !ok {
		return nil, errors.New("this store keeps no DKIM keys")
	}
	return ks, nil
}

// rotateDKIM gives domain a new Ed25519 and RSA key pair and retires its
// old ones. Used by `domain add` and `dkim rotate`.
func rotateDKIM(ctx context.Context, st store.Store, domain string) ([]store.DKIMKey, error) {
	ks, err := dkimKeys(st)
	if err != nil {
		return nil, err
	}
	keys, err := dkim.GenerateKeys(time.Now())
	if err != nil {
		return nil, err
	}
	return keys, describe(ks.RotateDKIMKeys(ctx, domain, keys), "domain "+domain)
}

func cmdDKIM(e *env, args []string) error {
	return dispatch(e, "dkim", args, []subcommand{
		{name: "rotate", usage: "postern -c FILE dkim rotate DOMAIN   (new keys sign at once; publish them with `postern dns DOMAIN`)", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				name, err := deliver.NormalizeDomain(a[0])
				if err != nil {
					return fmt.Errorf("%q is not a domain name", a[0])
				}
				keys, err := rotateDKIM(ctx, st, name)
				if err != nil {
					return err
				}
				for _, k := range keys {
					fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", name, k.Selector, k.Algorithm)
				}
				return nil
			}},
		{name: "list", usage: "postern -c FILE dkim list [DOMAIN]", nargs: -1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				ks, err := dkimKeys(st)
				if err != nil {
					return err
				}
				domain := ""
				if len(a) == 1 {
					domain = a[0]
				}
				keys, err := ks.DKIMKeys(ctx, domain, false)
				for _, k := range keys {
					state := "retired"
					if k.Active {
						state = "active"
					}
					fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", k.Domain, k.Selector, k.Algorithm, state,
						k.CreatedAt.Format("2006-01-02"))
				}
				return err
			}},
	})
}
