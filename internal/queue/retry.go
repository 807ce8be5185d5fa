package queue

import (
	"strings"
	"time"
)

// backoff is the wait after a temporary failure of attempt number
// attempts+1: FirstRetry, then doubling, capped at MaxRetry (RFC 5321
// §4.5.4.1 asks for at least 30 minutes between tries once a message has
// been waiting; the cap is configurable for that reason).
func backoff(first, maxWait time.Duration, attempts int) time.Duration {
	d := first
	for i := 0; i < attempts && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// notifies reports whether the NOTIFY parameter of a recipient (RFC 3461
// §4.1) asks for a DSN of this kind ("FAILURE" or "DELAY"). Without the
// parameter the MTA decides: failures always, delays too (§4.1 lets us).
func notifies(notify, kind string) bool {
	if notify == "" {
		return true
	}
	for _, n := range strings.Split(notify, ",") {
		if strings.EqualFold(strings.TrimSpace(n), kind) {
			return true
		}
	}
	return false
}
