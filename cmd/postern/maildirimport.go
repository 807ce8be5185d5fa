package main

import (
	"context"
	"fmt"

	"postern/internal/admin"
	"postern/internal/config"
)

// cmdImport brings mail from elsewhere: today a Maildir++ tree, as
// Dovecot and Courier keep it.
func cmdImport(e *env, args []string) error {
	fs := newFlags(e, "import", "postern -c FILE import maildir ACCOUNT DIR [--dry-run]")
	dryRun := fs.Bool("dry-run", false, "list what would be imported, import nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 3); err != nil {
		return err
	}
	if pos[0] != "maildir" {
		return fmt.Errorf("import: unknown format %q (maildir is the one there is)", pos[0])
	}
	return withServiceConfig(e, func(ctx context.Context, cfg *config.Config, svc *admin.Service) error {
		res, err := svc.ImportMaildir(ctx, pos[1], pos[2], admin.MaildirOptions{
			DryRun:          *dryRun,
			MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
			Progress: func(folder string, n int) {
				fmt.Fprintf(e.stdout, "%s: %d messages\n", folder, n)
			},
		})
		for _, s := range res.Skipped {
			fmt.Fprintf(e.stderr, "skipped %s\n", s)
		}
		verb := "imported"
		if *dryRun {
			verb = "would import"
		}
		fmt.Fprintf(e.stdout, "%s %d messages (%d bytes) in %d folders; %d mailboxes created, %d files skipped\n",
			verb, res.Messages, res.Bytes, res.Folders, len(res.Created), len(res.Skipped))
		return err
	})
}
