package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sieve50 is a 50-rule script of the kind people keep: sorting by list,
// sender, subject and a few body words. None matches the benchmark's
// messages, so every rule is evaluated and the message stays in INBOX
// (the implicit keep) where the benchmark counts it. The last line flags
// what reaches it, so the benchmark can tell the script ran to its end.
func sieve50() string {
	var b strings.Builder
	b.WriteString(`require ["fileinto", "imap4flags", "body", "mailbox", "envelope", "subaddress"];` + "\n")
	for i := 0; i < 50; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "if header :contains \"list-id\" \"list%d.example.org\" { fileinto :create \"Lists/l%d\"; stop; }\n", i, i)
		case 1:
			fmt.Fprintf(&b, "if address :is :domain \"from\" \"sender%d.example.com\" { fileinto \"Senders\"; stop; }\n", i)
		case 2:
			fmt.Fprintf(&b, "if header :matches \"subject\" \"*[ticket-%d]*\" { addflag \"$Ticket\"; fileinto \"Tickets\"; stop; }\n", i)
		case 3:
			fmt.Fprintf(&b, "if envelope :detail \"to\" \"tag%d\" { fileinto \"Tagged\"; stop; }\n", i)
		case 4:
			fmt.Fprintf(&b, "if body :text :contains \"unsubscribe-%d\" { fileinto \"Newsletters\"; stop; }\n", i)
		}
	}
	b.WriteString("addflag \"" + sievedFlag + "\";\n")
	return b.String()
}

const sievedFlag = "$Sieved"

// flaggedBySieve counts the INBOX messages of user that the script flagged.
func flaggedBySieve(b *testing.B, s *server, user string) int {
	ic := dialIMAP(b, s.imap, user, "benchpass")
	defer ic.close()
	ic.must("SELECT INBOX", nil)
	n := 0
	ic.must("SEARCH KEYWORD "+sievedFlag, func(l string) {
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			n += len(strings.Fields(rest))
		}
	})
	return n
}

// BenchmarkSMTPIngestSieve delivers the ingest workload to an account
// without a script and to one whose 50-rule script is active, twice each,
// interleaved on one server, and reports both rates and their ratio (the
// issue's goal: the script costs under 10% of ingest throughput).
func BenchmarkSMTPIngestSieve(b *testing.B) {
	for range b.N {
		s := startServer(b, 4)
		script := filepath.Join(s.dir, "rules.sieve")
		if err := os.WriteFile(script, []byte(sieve50()), 0o644); err != nil {
			b.Fatal(err)
		}
		s.run("sieve", "put", "bench2@bench.test", "rules", script, "--activate")
		s.run("sieve", "put", "bench4@bench.test", "rules", script, "--activate")
		time.Sleep(time.Second)
		rate := func(rcpt string) float64 {
			// The indexer writes the words of the last run once deliveries
			// pause; let it, so that no run pays for the one before.
			time.Sleep(3 * time.Second)
			start := time.Now()
			sendAll(b, s.smtp, rcpt, ingestMessages, ingestConns)
			for pop3Count(b, s.pop3, rcpt) < ingestMessages {
				if time.Since(start) > 5*time.Minute {
					b.Fatal("messages not visible after 5 minutes")
				}
				time.Sleep(100 * time.Millisecond)
			}
			return float64(ingestMessages) / time.Since(start).Seconds()
		}
		none := rate("bench1@bench.test")
		with := rate("bench2@bench.test")
		none += rate("bench3@bench.test")
		with += rate("bench4@bench.test")
		for _, user := range []string{"bench2@bench.test", "bench4@bench.test"} {
			if n := flaggedBySieve(b, s, user); n != ingestMessages {
				b.Fatalf("%s: %d of %d messages carry the script's flag", user, n, ingestMessages)
			}
		}
		if n := flaggedBySieve(b, s, "bench1@bench.test"); n != 0 {
			b.Fatalf("bench1 has no script, yet %d messages carry its flag", n)
		}
		b.ReportMetric(none/2, "msgs/s_no_script")
		b.ReportMetric(with/2, "msgs/s_sieve50")
		b.ReportMetric(with/none, "ratio")
	}
}
