package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"postern/internal/admin"
)

// confirmDelete says what a deletion will remove and asks for it to be
// confirmed: --yes, or on a terminal the name typed again. Deleting mail
// is not undone, so a script must say --yes.
func confirmDelete(e *env, yes bool, name, what string) error {
	if yes {
		fmt.Fprintf(e.stdout, "deleting %s\n", what)
		return nil
	}
	f, ok := e.stdin.(*os.File)
	if st, err := os.Stdin.Stat(); !ok || f != os.Stdin || err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return usageError{fmt.Sprintf("not deleted: it would delete %s; add --yes to confirm (standard input is not a terminal)", what)}
	}
	fmt.Fprintf(e.stderr, "this deletes %s\ntype %s again to confirm: ", what, name)
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(line) != name {
		return fmt.Errorf("not deleted: %q is not %q", strings.TrimSpace(line), name)
	}
	return nil
}

// accountSummary describes an account's mail for confirmDelete.
func accountSummary(a admin.Account) string {
	return fmt.Sprintf("account %s with %d messages (%s)", a.Address, a.UsedMessages, humanBytes(a.UsedBytes))
}

// domainSummary describes what deleting a domain removes.
func domainSummary(ctx context.Context, svc *admin.Service, domain string) (string, error) {
	d, err := svc.Domain(ctx, domain)
	if err != nil {
		return "", err
	}
	accts, err := svc.Accounts(ctx, d.Name)
	if err != nil {
		return "", err
	}
	var msgs, bytes int64
	for _, a := range accts {
		msgs += a.UsedMessages
		bytes += a.UsedBytes
	}
	aliases, err := svc.Aliases(ctx)
	if err != nil {
		return "", err
	}
	n := 0
	for _, al := range aliases {
		if strings.HasSuffix(strings.ToLower(al.Source), "@"+d.Name) {
			n++
		}
	}
	return fmt.Sprintf("domain %s: %d accounts with %d messages (%s), %d aliases", d.Name, len(accts), msgs, humanBytes(bytes), n), nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
