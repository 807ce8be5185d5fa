package main

import (
	"context"
	"fmt"

	"postern/internal/app"
	"postern/internal/config"
	"postern/internal/store/sqlstore"
)

// cmdCompact reclaims the space of deleted mail now, instead of waiting for
// the server's background pass: bodies nothing references are collected,
// and segments with dead space are rewritten (with --full, every one that
// has any; otherwise those at most half live). Safe while the server runs:
// segments a process is writing are locked and skipped.
func cmdCompact(e *env, args []string) error {
	fs := newFlags(e, "compact", "postern -c FILE compact [--full] [--pause DURATION]")
	full := fs.Bool("full", false, "rewrite every segment that has any dead space")
	pause := fs.Duration("pause", 0, "pause between batches of 1 MiB, to leave the disk to deliveries")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0); err != nil {
		return err
	}
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
	st, err := backend.Store.Compact(ctx, sqlstore.CompactOptions{Full: *full, Pause: *pause})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "purged %d unreferenced bodies, moved %d bodies out of the database\n", st.Purged, st.Inlined)
	fmt.Fprintf(e.stdout, "segments: %d examined, %d compacted, %d removed; %d bodies (%d bytes) moved, %d bytes reclaimed\n",
		st.Segments, st.Compacted, st.Removed, st.MovedBodies, st.MovedBytes, st.ReclaimedBytes)
	fmt.Fprintf(e.stdout, "now: %d segment files, %d bytes on disk, %d bytes of live mail\n", st.SegmentFiles, st.SegmentBytes, st.LiveBytes)
	return nil
}
