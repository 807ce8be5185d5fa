package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"postern/internal/admin"
)

const dnsUsage = "postern -c FILE dns DOMAIN | dns check DOMAIN   " +
	"(check: look the records up in DNS now; exit status 1 unless all are ok)"

// cmdDNS prints, in zone-file syntax, every record a domain needs: MX, SPF,
// a DKIM key record per active key, DMARC, the RFC 6186 / RFC 8314 SRV
// records that let clients find submission, IMAP and POP3, and the names
// mail clients try for autoconfiguration. `dns check DOMAIN` compares
// them with what DNS publishes.
func cmdDNS(e *env, args []string) error {
	fs := newFlags(e, "dns", dnsUsage)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 2 && pos[0] == "check" {
		return withService(e, func(ctx context.Context, svc *admin.Service) error {
			c, err := svc.CheckDNS(ctx, pos[1])
			if err != nil {
				return err
			}
			return writeDNSCheck(e.stdout, c)
		})
	}
	if err := wantArgs(fs, pos, 1); err != nil {
		return err
	}
	return withService(e, func(ctx context.Context, svc *admin.Service) error {
		z, err := svc.DNSRecords(ctx, pos[0])
		if err != nil {
			return err
		}
		return writeZone(e.stdout, z)
	})
}

// writeZone prints the records of z as a zone file.
func writeZone(w io.Writer, z admin.DNSZone) error {
	_, err := io.WriteString(w, z.ZoneFile())
	return err
}

// writeDNSCheck prints the check as a table, one row per record, with
// what DNS has and the fix under each record that is not ok; the error
// it returns (exit status 1) counts those.
func writeDNSCheck(w io.Writer, c admin.DNSCheck) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "STATUS\tTYPE\tNAME\n")
	bad := 0
	for _, r := range c.Records {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Status, r.Type, r.Name)
		if r.Status == admin.DNSOK {
			continue
		}
		bad++
		fmt.Fprintf(tw, "\t  want:\t%s\n", r.Want)
		for _, f := range r.Found {
			fmt.Fprintf(tw, "\t  found:\t%s\n", f)
		}
		fmt.Fprintf(tw, "\t  fix:\t%s\n", r.Fix)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s: %d of %d records ok (checked %s)\n", c.Domain, len(c.Records)-bad, len(c.Records), c.CheckedAt.Format("2006-01-02 15:04:05 MST"))
	if bad > 0 {
		return fmt.Errorf("%d DNS record(s) of %s are not as needed; see the fixes above", bad, c.Domain)
	}
	return nil
}
