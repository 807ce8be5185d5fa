package main

import (
	"context"
	"fmt"

	"postern/internal/admin"
)

func cmdDKIM(e *env, args []string) error {
	return dispatch(e, "dkim", args, []subcommand{
		{name: "rotate", usage: "postern -c FILE dkim rotate DOMAIN   (new keys sign at once; publish them with `postern dns DOMAIN`)", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				keys, err := svc.RotateDKIM(ctx, a[0])
				for _, k := range keys {
					fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", k.Domain, k.Selector, k.Algorithm)
				}
				return err
			}},
		{name: "list", usage: "postern -c FILE dkim list [DOMAIN]", nargs: -1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				keys, err := svc.DKIMKeys(ctx, optional(a))
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
