//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// raiseOpenFiles lifts the soft open-files limit to the hard one: every
// IMAP IDLE client holds a connection for hours, and a soft limit of 1024
// (a common default) would refuse clients long before memory runs short.
func raiseOpenFiles(logger *slog.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur >= rl.Max {
		return
	}
	old := rl.Cur
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		logger.Warn("cannot raise the open-files limit", "soft", old, "hard", rl.Max, "err", err)
		return
	}
	logger.Debug("open-files limit raised", "from", old, "to", rl.Max)
}
