package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"postern/internal/admin"
)

const importUsage = "postern -c FILE user import FILE|- [--dry-run]   " +
	"(CSV: address,password,quota[,name] a line; all accounts or, on any error, none)"

// importAccounts runs an account import from path ("-": standard input)
// and prints what it created, or every refused line on standard error.
func importAccounts(ctx context.Context, e *env, svc *admin.Service, path string, dryRun bool) error {
	var in io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, admin.MaxImportBytes+1))
	if err != nil {
		return err
	}
	res, err := svc.ImportAccounts(ctx, data, admin.ImportOptions{DryRun: dryRun})
	if err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		for _, ie := range res.Errors {
			where := fmt.Sprintf("line %d", ie.Line)
			if ie.Line == 0 {
				where = path
			}
			if ie.Address != "" {
				where += ": " + ie.Address
			}
			fmt.Fprintf(e.stderr, "%s: %s\n", where, ie.Message)
		}
		return fmt.Errorf("nothing imported: %d error(s)", len(res.Errors))
	}
	verb := "created"
	if dryRun {
		verb = "would create"
	}
	for _, a := range res.Created {
		fmt.Fprintf(e.stdout, "%s %s\n", verb, a)
	}
	fmt.Fprintf(e.stdout, "%d account(s) %s\n", len(res.Created), verb)
	return nil
}
