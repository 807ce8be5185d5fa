package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"postern/internal/app"
	"postern/internal/auth"
	"postern/internal/config"
	"postern/internal/deliver"
	"postern/internal/store"
)

// withStore opens the database of the config for one admin command. The
// server may be running: SQLite serialises the writes, and the server reads
// the directory afresh for every session, so changes apply at once.
func withStore(e *env, fn func(ctx context.Context, st store.Store) error) error {
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
	return fn(ctx, backend.Store)
}

// describe turns store errors into messages that name the thing.
func describe(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s does not exist", what)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%s already exists", what)
	}
	return err
}

type subcommand struct {
	name, usage string
	nargs       int // -1: zero or one; -2: checked by run
	run         func(ctx context.Context, st store.Store, args []string) error
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
		return withStore(e, func(ctx context.Context, st store.Store) error {
			return s.run(ctx, st, pos)
		})
	}
	return usageError{fmt.Sprintf("%s: unknown subcommand %q (usage: %s)", group, args[0], groupUsage)}
}

func cmdDomain(e *env, args []string) error {
	return dispatch(e, "domain", args, []subcommand{
		{name: "add", usage: "postern -c FILE domain add NAME", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				name, err := deliver.NormalizeDomain(a[0])
				if err != nil {
					return fmt.Errorf("%q is not a domain name", a[0])
				}
				if _, err = st.AddDomain(ctx, name); err != nil {
					return describe(err, "domain "+name)
				}
				_, err = rotateDKIM(ctx, st, name)
				return err
			}},
		{name: "list", usage: "postern -c FILE domain list", nargs: 0,
			run: func(ctx context.Context, st store.Store, _ []string) error {
				ds, err := st.Domains(ctx)
				for _, d := range ds {
					if d.CatchAll != "" {
						fmt.Fprintf(e.stdout, "%s\tcatch-all=%s\n", d.Name, d.CatchAll)
					} else {
						fmt.Fprintln(e.stdout, d.Name)
					}
				}
				return err
			}},
		{name: "del", usage: "postern -c FILE domain del NAME   (deletes its accounts, their mail and its aliases)", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return describe(st.DeleteDomain(ctx, strings.ToLower(a[0])), "domain "+a[0])
			}},
		{name: "catchall", usage: "postern -c FILE domain catchall DOMAIN ADDRESS   (\"\" clears it)", nargs: 2,
			run: func(ctx context.Context, st store.Store, a []string) error {
				target := ""
				if a[1] != "" {
					t, err := deliver.Normalize(a[1])
					if err != nil {
						return fmt.Errorf("%q is not a valid address", a[1])
					}
					target = t
				}
				return describe(st.SetCatchAll(ctx, strings.ToLower(a[0]), target), "domain "+a[0])
			}},
	})
}

// normalizeAddress validates an account or alias address and checks that
// its domain is local.
func normalizeAddress(ctx context.Context, st store.Store, s string) (string, error) {
	addr, err := deliver.Normalize(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid address (local@domain)", s)
	}
	domain := addr[strings.LastIndexByte(addr, '@')+1:]
	if _, err := st.Domain(ctx, domain); err != nil {
		return "", describe(err, "domain "+domain)
	}
	return addr, nil
}

// readPassword takes the password from stdin or generates one to print.
func readPassword(e *env, fromStdin bool) (string, bool, error) {
	if !fromStdin {
		return auth.GeneratePassword(), true, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", false, errors.New("no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := auth.ValidatePassword(pw); err != nil {
		return "", false, err
	}
	return pw, false, nil
}

func cmdUser(e *env, args []string) error {
	var pwStdin bool
	pwFlag := func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	setPassword := func(ctx context.Context, st store.Store, address string, add bool) error {
		pw, generated, err := readPassword(e, pwStdin)
		if err != nil {
			return err
		}
		cred, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		if add {
			_, err = st.AddAccount(ctx, address, cred)
		} else {
			err = st.SetCredentials(ctx, address, cred)
		}
		if err != nil {
			return describe(err, "account "+address)
		}
		if generated {
			fmt.Fprintf(e.stdout, "%s password: %s\n", address, pw)
		}
		return nil
	}
	return dispatch(e, "user", args, []subcommand{
		{name: "add", usage: "postern -c FILE user add ADDRESS [--password-stdin]", nargs: 1, flags: pwFlag,
			run: func(ctx context.Context, st store.Store, a []string) error {
				addr, err := normalizeAddress(ctx, st, a[0])
				if err != nil {
					return err
				}
				if _, err := st.Alias(ctx, addr); err == nil {
					return fmt.Errorf("%s is an alias; delete the alias first", addr)
				}
				return setPassword(ctx, st, addr, true)
			}},
		{name: "list", usage: "postern -c FILE user list [DOMAIN]", nargs: -1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				domain := ""
				if len(a) == 1 {
					domain = strings.ToLower(a[0])
					if _, err := st.Domain(ctx, domain); err != nil {
						return describe(err, "domain "+domain)
					}
				}
				accts, err := st.Accounts(ctx, domain)
				for _, ac := range accts {
					fmt.Fprintln(e.stdout, formatAccount(ac))
				}
				return err
			}},
		{name: "passwd", usage: "postern -c FILE user passwd ADDRESS [--password-stdin]", nargs: 1, flags: pwFlag,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return setPassword(ctx, st, strings.ToLower(a[0]), false)
			}},
		{name: "del", usage: "postern -c FILE user del ADDRESS   (deletes the account and its mail)", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return describe(st.DeleteAccount(ctx, strings.ToLower(a[0])), "account "+a[0])
			}},
		{name: "disable", usage: "postern -c FILE user disable ADDRESS   (no logins; mail is still received)", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return describe(st.SetDisabled(ctx, strings.ToLower(a[0]), true), "account "+a[0])
			}},
		{name: "enable", usage: "postern -c FILE user enable ADDRESS", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return describe(st.SetDisabled(ctx, strings.ToLower(a[0]), false), "account "+a[0])
			}},
		{name: "quota", usage: "postern -c FILE user quota ADDRESS BYTES [MESSAGES]   (0: unlimited)", nargs: -2,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return setQuota(ctx, st, a)
			}},
		{name: "app-password", usage: appPasswordUsage, nargs: -2,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return cmdAppPassword(ctx, e.stdout, st, a)
			}},
	})
}

func setQuota(ctx context.Context, st store.Store, a []string) error {
	if len(a) < 2 || len(a) > 3 {
		return usageError{"user quota: expected ADDRESS BYTES [MESSAGES]"}
	}
	bytes, err := strconv.ParseInt(a[1], 10, 64)
	if err != nil || bytes < 0 {
		return fmt.Errorf("quota: %q is not a byte count", a[1])
	}
	var msgs int64
	if len(a) == 3 {
		if msgs, err = strconv.ParseInt(a[2], 10, 64); err != nil || msgs < 0 {
			return fmt.Errorf("quota: %q is not a message count", a[2])
		}
	}
	return describe(st.SetQuota(ctx, strings.ToLower(a[0]), bytes, msgs), "account "+a[0])
}

func formatAccount(a store.Account) string {
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
			run: func(ctx context.Context, st store.Store, a []string) error {
				src, err := normalizeAddress(ctx, st, a[0])
				if err != nil {
					return err
				}
				if _, err := st.Account(ctx, src); err == nil {
					return fmt.Errorf("%s is an account; an alias cannot shadow it", src)
				}
				dests, err := aliasDestinations(a[1])
				if err != nil {
					return err
				}
				return describe(st.AddAlias(ctx, src, dests), "alias "+src)
			}},
		{name: "list", usage: "postern -c FILE alias list", nargs: 0,
			run: func(ctx context.Context, st store.Store, _ []string) error {
				as, err := st.Aliases(ctx)
				for _, al := range as {
					fmt.Fprintf(e.stdout, "%s\t%s\n", al.Source, strings.Join(al.Destinations, ","))
				}
				return err
			}},
		{name: "del", usage: "postern -c FILE alias del SOURCE", nargs: 1,
			run: func(ctx context.Context, st store.Store, a []string) error {
				return describe(st.DeleteAlias(ctx, strings.ToLower(a[0])), "alias "+a[0])
			}},
	})
}

// aliasDestinations validates a comma list. Destinations may be local or
// remote; mail for remote ones is forwarded through the outbound queue.
func aliasDestinations(list string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		addr, err := deliver.Normalize(d)
		if err != nil {
			return nil, fmt.Errorf("destination %q is not a valid address", d)
		}
		out = append(out, addr)
	}
	if len(out) == 0 {
		return nil, errors.New("alias needs at least one destination")
	}
	return out, nil
}
