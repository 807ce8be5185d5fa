package sqlstore

import (
	"context"
	"time"
)

// MaintainOptions set the pace of the background work; zero values take
// the defaults.
type MaintainOptions struct {
	// PurgeDelay is how long after references were dropped the purge runs,
	// so that a burst of expunges becomes a few batches (default 2s).
	PurgeDelay time.Duration
	// CompactEvery is the interval between compaction passes (default 10m).
	CompactEvery time.Duration
}

// Maintain runs the store's background work until ctx ends: collecting
// bodies nothing references, moving bodies of older versions out of the
// database, compacting segments. Only the server runs it (the CLI's short
// processes do not).
func (s *Store) Maintain(ctx context.Context, opts MaintainOptions) {
	if opts.PurgeDelay <= 0 {
		opts.PurgeDelay = 2 * time.Second
	}
	if opts.CompactEvery <= 0 {
		opts.CompactEvery = 10 * time.Minute
	}
	// A first pass soon after start finishes what a crash interrupted.
	compact := time.NewTimer(time.Minute)
	defer compact.Stop()
	go func() {
		// Bodies from before the text index: once, slowly.
		if n, err := s.Reindex(ctx, 50*time.Millisecond); err != nil && ctx.Err() == nil {
			s.log.Warn("indexing old bodies", "err", err)
		} else if n > 0 {
			s.log.Info("old bodies indexed", "bodies", n)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case <-s.purgeWake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(opts.PurgeDelay):
			}
			if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("purging unreferenced bodies", "err", err)
			}
		case <-compact.C:
			if _, err := s.Compact(ctx, CompactOptions{Pause: 10 * time.Millisecond}); err != nil && ctx.Err() == nil {
				s.log.Warn("compaction", "err", err)
			}
			compact.Reset(opts.CompactEvery)
		}
	}
}
