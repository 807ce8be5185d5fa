package main

import (
	"context"
	"fmt"
	"io"

	"postern/internal/admin"
)

const appPasswordUsage = `postern -c FILE user app-password add ADDRESS NAME | list ADDRESS | del ADDRESS NAME`

// cmdAppPassword is `user app-password`: named passwords an account can
// use on every protocol and revoke one by one. add prints the generated
// password once; it is not stored, only its digest.
func cmdAppPassword(ctx context.Context, w io.Writer, svc *admin.Service, args []string) error {
	switch {
	case len(args) == 3 && args[0] == "add":
		p, secret, err := svc.AddAppPassword(ctx, args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s app password %s: %s\n", p.Account, p.Name, secret)
		if !p.SCRAM {
			fmt.Fprintln(w, "(usable with PLAIN and LOGIN; the account has no SCRAM keys, so not with SCRAM)")
		}
		return nil
	case len(args) == 2 && args[0] == "list":
		list, err := svc.AppPasswords(ctx, args[1])
		for _, p := range list {
			used := "never used"
			if !p.LastUsed.IsZero() {
				used = "last used " + p.LastUsed.Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(w, "%s\tcreated %s\t%s\n", p.Name, p.CreatedAt.Format("2006-01-02 15:04:05Z"), used)
		}
		return err
	case len(args) == 3 && args[0] == "del":
		return svc.DeleteAppPassword(ctx, args[1], args[2])
	}
	return usageError{"usage: " + appPasswordUsage}
}
