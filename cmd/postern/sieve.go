package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"postern/internal/admin"
)

// readScript reads a script from FILE, or standard input for "-".
func readScript(e *env, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(e.stdin, admin.MaxSieveScriptSize+1))
	}
	return os.ReadFile(path)
}

// cmdSieve is `postern sieve`: the accounts' Sieve scripts and the
// administrator's global ones, the same rules as ManageSieve.
func cmdSieve(e *env, args []string) error {
	var activate bool
	return dispatch(e, "sieve", args, []subcommand{
		{name: "list", usage: "postern -c FILE sieve list ADDRESS", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				list, err := svc.SieveScripts(ctx, a[0])
				for _, sc := range list {
					state := ""
					if sc.Active {
						state = "\tactive"
					}
					fmt.Fprintf(e.stdout, "%s\t%d bytes\t%s%s\n", sc.Name, sc.Size, sc.UpdatedAt.Format("2006-01-02 15:04:05Z"), state)
				}
				return err
			}},
		{name: "get", usage: "postern -c FILE sieve get ADDRESS NAME", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				src, err := svc.SieveScript(ctx, a[0], a[1])
				e.stdout.Write(src)
				return err
			}},
		{name: "put", usage: "postern -c FILE sieve put ADDRESS NAME FILE [--activate]   (FILE - reads standard input)", nargs: 3,
			flags: func(fs *flag.FlagSet) { fs.BoolVar(&activate, "activate", false, "make it the active script") },
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				src, err := readScript(e, a[2])
				if err != nil {
					return err
				}
				if err := svc.PutSieveScript(ctx, a[0], a[1], src); err != nil {
					return err
				}
				if activate {
					return svc.ActivateSieveScript(ctx, a[0], a[1])
				}
				return nil
			}},
		{name: "check", usage: "postern -c FILE sieve check ADDRESS FILE", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				src, err := readScript(e, a[1])
				if err != nil {
					return err
				}
				if err := svc.CheckSieveScript(ctx, a[0], src); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "script is valid")
				return nil
			}},
		{name: "activate", usage: "postern -c FILE sieve activate ADDRESS NAME", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.ActivateSieveScript(ctx, a[0], a[1])
			}},
		{name: "deactivate", usage: "postern -c FILE sieve deactivate ADDRESS", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.ActivateSieveScript(ctx, a[0], "")
			}},
		{name: "rename", usage: "postern -c FILE sieve rename ADDRESS NAME NEWNAME", nargs: 3,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.RenameSieveScript(ctx, a[0], a[1], a[2])
			}},
		{name: "del", usage: "postern -c FILE sieve del ADDRESS NAME   (not the active script)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.DeleteSieveScript(ctx, a[0], a[1])
			}},
		{name: "global", usage: "postern -c FILE sieve global put before|after FILE | get before|after | del before|after", nargs: -2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				switch {
				case len(a) == 3 && a[0] == "put":
					src, err := readScript(e, a[2])
					if err != nil {
						return err
					}
					return svc.PutGlobalSieveScript(ctx, a[1], src)
				case len(a) == 2 && a[0] == "get":
					src, err := svc.GlobalSieveScript(ctx, a[1])
					e.stdout.Write(src)
					return err
				case len(a) == 2 && a[0] == "del":
					return svc.PutGlobalSieveScript(ctx, a[1], nil)
				}
				return usageError{"usage: postern -c FILE sieve global put before|after FILE | get before|after | del before|after"}
			}},
	})
}
