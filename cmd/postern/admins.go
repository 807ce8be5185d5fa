package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"postern/internal/admin"
	"postern/internal/store"
)

// cmdAdmin is `postern admin`: the administrators of the admin API. add
// prints a generated password and the TOTP otpauth URL once; neither is
// kept in a form that can be shown again.
func cmdAdmin(e *env, args []string) error {
	var (
		role, domains string
		pwStdin, yes  bool
		withTOTP      bool
	)
	return dispatch(e, "admin", args, []subcommand{
		{name: "add", usage: "postern -c FILE admin add NAME --role server|domain [--domains a,b] [--password-stdin] [--totp]", nargs: 1,
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&role, "role", "", "server (every domain) or domain (the --domains only)")
				fs.StringVar(&domains, "domains", "", "comma-separated domains a domain administrator manages")
				fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
				fs.BoolVar(&withTOTP, "totp", false, "require a TOTP code at login; prints the otpauth URL for an authenticator app")
			},
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				if role == "" {
					return usageError{"admin add: --role server|domain is required"}
				}
				pw, err := readPassword(e, pwStdin)
				if err != nil {
					return err
				}
				var doms []string
				if domains != "" {
					doms = strings.Split(domains, ",")
				}
				ad, generated, url, err := svc.AddAdministrator(ctx, admin.NewAdministrator{
					Name: a[0], Role: role, Domains: doms, Password: pw, TOTP: withTOTP})
				if err != nil {
					return err
				}
				printGenerated(e, ad.Name, generated)
				printTOTP(e, url)
				return nil
			}},
		{name: "list", usage: "postern -c FILE admin list", nargs: 0,
			run: func(ctx context.Context, svc *admin.Service, _ []string) error {
				list, err := svc.Administrators(ctx)
				for _, ad := range list {
					fmt.Fprintln(e.stdout, formatAdmin(ad))
				}
				return err
			}},
		{name: "del", usage: "postern -c FILE admin del NAME [--yes]   (its sessions and API tokens stop working)", nargs: 1,
			flags: func(fs *flag.FlagSet) { fs.BoolVar(&yes, "yes", false, "delete without asking") },
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				ad, err := svc.Administrator(ctx, a[0])
				if err != nil {
					return err
				}
				if err := confirmDelete(e, yes, a[0], "administrator "+ad.Name); err != nil {
					return err
				}
				return svc.DeleteAdministrator(ctx, a[0])
			}},
		{name: "totp", usage: "postern -c FILE admin totp NAME on|off   (on: a new secret, its URL printed once)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				switch a[1] {
				case "on":
					url, err := svc.SetAdministratorTOTP(ctx, a[0])
					printTOTP(e, url)
					return err
				case "off":
					return svc.ClearAdministratorTOTP(ctx, a[0])
				}
				return usageError{fmt.Sprintf("admin totp: %q is not on or off", a[1])}
			}},
	})
}

// printTOTP prints a second factor's URL, the only time it is shown.
func printTOTP(e *env, url string) {
	if url != "" {
		fmt.Fprintf(e.stdout, "TOTP (add to an authenticator app; shown once): %s\n", url)
	}
}

func formatAdmin(a admin.Administrator) string {
	scope := "all domains"
	if a.Role == store.AdminRoleDomain {
		scope = strings.Join(a.Domains, ",")
	}
	totp := "password only"
	if a.TOTP {
		totp = "password+totp"
	}
	last := "never logged in"
	if !a.LastLogin.IsZero() {
		last = "last login " + a.LastLogin.UTC().Format("2006-01-02 15:04:05Z")
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", a.Name, a.Role, scope, totp, last)
}
