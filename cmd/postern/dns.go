package main

import (
	"context"
	"io"

	"postern/internal/admin"
)

// cmdDNS prints, in zone-file syntax, every record a domain needs: MX, SPF,
// a DKIM key record per active key, DMARC, the RFC 6186 / RFC 8314 SRV
// records that let clients find submission, IMAP and POP3, and the names
// mail clients try for autoconfiguration.
func cmdDNS(e *env, args []string) error {
	fs := newFlags(e, "dns", "postern -c FILE dns DOMAIN")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
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
