package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"postern/internal/auth"
	"postern/internal/store"
)

const appPasswordUsage = `postern -c FILE user app-password add ADDRESS NAME | list ADDRESS | del ADDRESS NAME`

// appPasswords finds the app-password storage behind st.
func appPasswords(st store.Store) (store.AppPasswords, error) {
	ap, ok := st.(store.AppPasswords)
	if !ok {
		return nil, errors.New("this store keeps no app passwords")
	}
	return ap, nil
}

// cmdAppPassword is `user app-password`: named passwords an account can
// use on every protocol and revoke one by one. add prints the generated
// password once; it is not stored, only its digest.
func cmdAppPassword(ctx context.Context, w io.Writer, st store.Store, args []string) error {
	if len(args) < 2 {
		return usageError{"usage: " + appPasswordUsage}
	}
	ap, err := appPasswords(st)
	if err != nil {
		return err
	}
	addr, err := normalizeAddress(ctx, st, args[1])
	if err != nil {
		return err
	}
	acct, err := st.Account(ctx, addr)
	if err != nil {
		return describe(err, "account "+addr)
	}
	switch {
	case args[0] == "add" && len(args) == 3:
		secret, p, err := auth.NewAppPassword(acct, args[2])
		if err != nil {
			return err
		}
		if _, err := ap.AddAppPassword(ctx, p); err != nil {
			return describe(err, "app password "+args[2]+" of "+addr)
		}
		fmt.Fprintf(w, "%s app password %s: %s\n", addr, args[2], secret)
		if p.SCRAMSHA256 == "" {
			fmt.Fprintln(w, "(usable with PLAIN and LOGIN; the account has no SCRAM keys, so not with SCRAM)")
		}
		return nil
	case args[0] == "list" && len(args) == 2:
		list, err := ap.AppPasswords(ctx, acct.ID)
		for _, p := range list {
			used := "never used"
			if !p.LastUsed.IsZero() {
				used = "last used " + p.LastUsed.Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(w, "%s\tcreated %s\t%s\n", p.Name, p.CreatedAt.Format("2006-01-02 15:04:05Z"), used)
		}
		return err
	case args[0] == "del" && len(args) == 3:
		return describe(ap.DeleteAppPassword(ctx, acct.ID, args[2]), "app password "+args[2]+" of "+addr)
	}
	return usageError{"usage: " + appPasswordUsage}
}
