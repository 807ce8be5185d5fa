package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/admin"
	"postern/internal/app"
	"postern/internal/config"
)

// withService opens the database of the config for one admin command and
// runs fn with the admin service, acting as the actor "cli" (the name every
// change made from the command line has in the audit log). The server may be
// running: SQLite serialises the writes, and the server reads the directory
// afresh for every session, so changes apply at once.
//
// The audit lines go to standard error in the config's log format and
// level, like the server's log; standard output keeps only what the
// command prints. The store's own log stays discarded, so that a change is
// reported once.
func withService(e *env, fn func(ctx context.Context, svc *admin.Service) error) error {
	return withServiceConfig(e, func(ctx context.Context, _ *config.Config, svc *admin.Service) error { return fn(ctx, svc) })
}

// withServiceConfig is withService for a command that also reads the
// config it loaded.
func withServiceConfig(e *env, fn func(ctx context.Context, cfg *config.Config, svc *admin.Service) error) error {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	backend, err := app.OpenBackend(ctx, cfg, discardLogger())
	if err != nil {
		return err
	}
	defer backend.Close()
	logger, _ := newLogger(e, cfg)
	svc := admin.New(backend.Store, logger, admin.Options{Hostname: cfg.Hostname, MTASTSMode: cfg.MTASTS.Mode,
		DNS: admin.NewDNSLookup(cfg.DNS.Servers)})
	return fn(admin.WithActor(ctx, admin.Actor{Name: "cli"}), cfg, svc)
}

type subcommand struct {
	name, usage string
	nargs       int // -1: zero or one; -2: checked by run
	run         func(ctx context.Context, svc *admin.Service, args []string) error
	flags       func(fs *flag.FlagSet)
}

// dispatch runs one of a group's subcommands.
func dispatch(e *env, group string, args []string, subs []subcommand) error {
	var names []string
	for _, s := range subs {
		names = append(names, s.name)
	}
	groupUsage := fmt.Sprintf("postern -c FILE %s %s ...", group, strings.Join(names, "|"))
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintf(e.stderr, "Usage: %s\n", groupUsage)
		for _, s := range subs {
			fmt.Fprintf(e.stderr, "  %s\n", s.usage)
		}
		if len(args) == 0 {
			return usageError{group + ": missing subcommand"}
		}
		return nil
	}
	for _, s := range subs {
		if s.name != args[0] {
			continue
		}
		fs := newFlags(e, group+" "+s.name, s.usage)
		if s.flags != nil {
			s.flags(fs)
		}
		pos, err := parseFlags(fs, args[1:])
		if err != nil {
			return err
		}
		if s.nargs >= 0 {
			if err := wantArgs(fs, pos, s.nargs); err != nil {
				return err
			}
		} else if s.nargs == -1 && len(pos) > 1 {
			fs.Usage()
			return usageError{fmt.Sprintf("%s %s: too many arguments", group, s.name)}
		}
		return withService(e, func(ctx context.Context, svc *admin.Service) error {
			return s.run(ctx, svc, pos)
		})
	}
	return usageError{fmt.Sprintf("%s: unknown subcommand %q (usage: %s)", group, args[0], groupUsage)}
}

// optional returns the only element of a, or "".
func optional(a []string) string {
	if len(a) == 1 {
		return a[0]
	}
	return ""
}

func cmdDomain(e *env, args []string) error {
	var yes bool
	return dispatch(e, "domain", args, []subcommand{
		{name: "add", usage: "postern -c FILE domain add NAME", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				_, err := svc.AddDomain(ctx, a[0])
				return err
			}},
		{name: "list", usage: "postern -c FILE domain list", nargs: 0,
			run: func(ctx context.Context, svc *admin.Service, _ []string) error {
				ds, err := svc.Domains(ctx)
				for _, d := range ds {
					line := d.Name
					if d.CatchAll != "" {
						line += "\tcatch-all=" + d.CatchAll
					}
					if d.Postmaster != "" {
						line += "\tpostmaster=" + d.Postmaster
					}
					fmt.Fprintln(e.stdout, line)
				}
				return err
			}},
		{name: "del", usage: "postern -c FILE domain del NAME [--yes]   (deletes its accounts, their mail and its aliases)", nargs: 1,
			flags: func(fs *flag.FlagSet) { fs.BoolVar(&yes, "yes", false, "delete without asking") },
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				what, err := domainSummary(ctx, svc, a[0])
				if err != nil {
					return err
				}
				if err := confirmDelete(e, yes, a[0], what); err != nil {
					return err
				}
				return svc.DeleteDomain(ctx, a[0])
			}},
		{name: "postmaster", usage: "postern -c FILE domain postmaster DOMAIN ADDRESS   (where postmaster@ and abuse@ go; \"\": the oldest account)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.SetPostmaster(ctx, a[0], a[1])
			}},
		{name: "catchall", usage: "postern -c FILE domain catchall DOMAIN ADDRESS   (\"\" clears it)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				if a[1] == "" {
					return svc.ClearCatchAll(ctx, a[0])
				}
				return svc.SetCatchAll(ctx, a[0], a[1])
			}},
	})
}

// readPassword returns how the new password is chosen: the first line of
// stdin, or generated by the service.
func readPassword(e *env, fromStdin bool) (admin.NewPassword, error) {
	if !fromStdin {
		return admin.NewPassword{Generate: true}, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return admin.NewPassword{}, errors.New("no password on standard input")
	}
	return admin.NewPassword{Given: strings.TrimRight(line, "\r\n")}, nil
}

// printGenerated prints a generated password, the only time it is shown.
func printGenerated(e *env, addr, pw string) {
	if pw != "" {
		fmt.Fprintf(e.stdout, "%s password: %s\n", addr, pw)
	}
}

const quotaUsage = "postern -c FILE user quota ADDRESS SIZE [MESSAGES]   " +
	"(0: unlimited; SIZE in bytes or with a unit: 500K, 10M, 1.5G, 2GiB, 100MB)"

const shareUsage = "postern -c FILE user share ADDRESS MAILBOX WHO RIGHTS   " +
	"(WHO: an address of the domain, anyone, or -WHO to deny; RIGHTS: IMAP ACL letters such as lrsw, \"\" to revoke)"

func cmdUser(e *env, args []string) error {
	var pwStdin, yes, dryRun bool
	pwFlag := func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	return dispatch(e, "user", args, []subcommand{
		{name: "add", usage: "postern -c FILE user add ADDRESS [--password-stdin]", nargs: 1, flags: pwFlag,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				pw, err := readPassword(e, pwStdin)
				if err != nil {
					return err
				}
				acct, generated, err := svc.AddAccount(ctx, a[0], pw)
				printGenerated(e, acct.Address, generated)
				return err
			}},
		{name: "list", usage: "postern -c FILE user list [DOMAIN]", nargs: -1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				accts, err := svc.Accounts(ctx, optional(a))
				for _, ac := range accts {
					fmt.Fprintln(e.stdout, formatAccount(ac))
				}
				return err
			}},
		{name: "show", usage: "postern -c FILE user show ADDRESS   (state, quota, storage, last login per protocol)", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				acct, err := svc.Account(ctx, a[0])
				if err != nil {
					return err
				}
				writeAccount(e.stdout, acct)
				return nil
			}},
		{name: "passwd", usage: "postern -c FILE user passwd ADDRESS [--password-stdin]", nargs: 1, flags: pwFlag,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				pw, err := readPassword(e, pwStdin)
				if err != nil {
					return err
				}
				acct, generated, err := svc.SetPassword(ctx, a[0], pw)
				printGenerated(e, acct.Address, generated)
				return err
			}},
		{name: "del", usage: "postern -c FILE user del ADDRESS [--yes]   (deletes the account and its mail)", nargs: 1,
			flags: func(fs *flag.FlagSet) { fs.BoolVar(&yes, "yes", false, "delete without asking") },
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				acct, err := svc.Account(ctx, a[0])
				if err != nil {
					return err
				}
				if err := confirmDelete(e, yes, a[0], accountSummary(acct)); err != nil {
					return err
				}
				return svc.DeleteAccount(ctx, a[0])
			}},
		{name: "disable", usage: "postern -c FILE user disable ADDRESS   (no logins; mail is still received)", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.DisableAccount(ctx, a[0])
			}},
		{name: "enable", usage: "postern -c FILE user enable ADDRESS", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.EnableAccount(ctx, a[0])
			}},
		{name: "quota", usage: quotaUsage, nargs: -2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				if len(a) < 2 || len(a) > 3 {
					return usageError{"user quota: expected ADDRESS SIZE [MESSAGES]"}
				}
				q, err := admin.ParseQuota(a[1], optional(a[2:]))
				if err != nil {
					return err
				}
				return svc.SetQuota(ctx, a[0], q)
			}},
		{name: "share", usage: shareUsage, nargs: 4,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.ShareMailbox(ctx, a[0], a[1], a[2], a[3])
			}},
		{name: "shares", usage: "postern -c FILE user shares ADDRESS MAILBOX   (who may use the mailbox, with which rights)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				entries, err := svc.MailboxShares(ctx, a[0], a[1])
				for _, en := range entries {
					fmt.Fprintf(e.stdout, "%s\t%s\n", en.Identifier, en.Rights)
				}
				return err
			}},
		{name: "import", usage: importUsage, nargs: 1,
			flags: func(fs *flag.FlagSet) { fs.BoolVar(&dryRun, "dry-run", false, "check every line, create nothing") },
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return importAccounts(ctx, e, svc, a[0], dryRun)
			}},
		{name: "app-password", usage: appPasswordUsage, nargs: -2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return cmdAppPassword(ctx, e.stdout, svc, a)
			}},
	})
}

func formatAccount(a admin.Account) string {
	state := "enabled"
	if a.Disabled {
		state = "disabled"
	}
	quota := "unlimited"
	if a.QuotaBytes > 0 {
		quota = strconv.FormatInt(a.QuotaBytes, 10)
	}
	return fmt.Sprintf("%s\t%s\tused=%d/%s bytes\tmessages=%d", a.Address, state, a.UsedBytes, quota, a.UsedMessages)
}

func cmdAlias(e *env, args []string) error {
	return dispatch(e, "alias", args, []subcommand{
		{name: "add", usage: "postern -c FILE alias add SOURCE DEST[,DEST...]   (remote destinations are forwarded)", nargs: 2,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				_, err := svc.AddAlias(ctx, a[0], strings.Split(a[1], ","))
				return err
			}},
		{name: "list", usage: "postern -c FILE alias list", nargs: 0,
			run: func(ctx context.Context, svc *admin.Service, _ []string) error {
				as, err := svc.Aliases(ctx)
				for _, al := range as {
					fmt.Fprintf(e.stdout, "%s\t%s\n", al.Source, strings.Join(al.Destinations, ","))
				}
				return err
			}},
		{name: "del", usage: "postern -c FILE alias del SOURCE", nargs: 1,
			run: func(ctx context.Context, svc *admin.Service, a []string) error {
				return svc.DeleteAlias(ctx, a[0])
			}},
	})
}
