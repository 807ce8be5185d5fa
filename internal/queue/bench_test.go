package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"postern/internal/queue/queuetest"
)

// BenchmarkRelay queues b.N messages of 4 KiB for one remote domain, then
// times their delivery to a loopback peer (go-smtp) over STARTTLS:
// go test -bench Relay -benchtime 2000x ./internal/queue/
func BenchmarkRelay(b *testing.B) {
	peer := (&queuetest.Peer{Hostname: "mx.remote.test"}).Start(b)
	f := newFixture(b, peer, nil)
	body := testBody + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 62)
	for range b.N {
		f.enqueue("a@local.test", body, "b@remote.test")
	}
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.q.Run(ctx); close(done) }()
	for len(peer.Mails()) < b.N {
		time.Sleep(5 * time.Millisecond)
	}
	el := time.Since(start)
	cancel()
	<-done
	if n := len(peer.Mails()); n != b.N {
		b.Fatalf("peer got %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(peer.Sessions()), "connections")
}
