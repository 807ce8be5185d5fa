package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// BenchmarkFetchEnvelopes times FETCH 1:* (FLAGS UID ENVELOPE) over the
// wire on 10,000 messages with the headers real mail has (several To and
// Cc, encoded-words, 8-bit names, groups, In-Reply-To, long subjects),
// from the command to its tagged OK, as the side-by-side compare's IMAP
// workload sends it. With raw-client the client only splits lines and
// skips literals, so the figure is the server's; go-imap-client reads
// with go-imap v2 as the compare's load generator does, parsing every
// envelope.
func BenchmarkFetchEnvelopes(b *testing.B) {
	benchFetchEnvelopes(b, variedMessage)
}

// BenchmarkFetchEnvelopesPlain is BenchmarkFetchEnvelopes on the mailbox
// of the side-by-side compare: short ASCII headers (plainMessage), every
// string quoted, so go-imap-client is the compare's figure in process.
func BenchmarkFetchEnvelopesPlain(b *testing.B) {
	benchFetchEnvelopes(b, plainMessage)
}

func benchFetchEnvelopes(b *testing.B, gen func(int) string) {
	bc := newFetchBench(b, benchMailboxSize, gen)
	b.Run("raw-client", func(b *testing.B) {
		cpu0 := processCPU(b)
		bc.firstWait = 0
		for b.Loop() {
			if got := bc.fetchAll(b, "FETCH 1:* (FLAGS UID ENVELOPE)"); got != benchMailboxSize {
				b.Fatalf("%d FETCH responses, want %d", got, benchMailboxSize)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMailboxSize, "ns/msg")
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
		b.ReportMetric(float64(bc.firstWait.Microseconds())/float64(b.N)/1000, "first-ms")
	})
	b.Run("go-imap-client", func(b *testing.B) {
		c := goIMAPClient(b, bc)
		var all imap.SeqSet
		all.AddRange(1, 0)
		cpu0 := processCPU(b)
		for b.Loop() {
			cmd := c.Fetch(all, &imap.FetchOptions{Flags: true, UID: true, Envelope: true})
			got := 0
			for m := cmd.Next(); m != nil; m = cmd.Next() {
				if buf, err := m.Collect(); err == nil && buf.Envelope != nil {
					got++
				}
			}
			if err := cmd.Close(); err != nil || got != benchMailboxSize {
				b.Fatalf("%d envelopes, want %d: %v", got, benchMailboxSize, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMailboxSize, "ns/msg")
		b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
	})
}

// fetchAll sends cmd and reads to its tagged OK, skipping the bytes of
// literals, and returns the number of FETCH responses.
func (bc *benchConn) fetchAll(b *testing.B, cmd string) int {
	bc.n++
	tag := fmt.Sprintf("b%d", bc.n)
	sent := time.Now()
	if _, err := bc.c.Write([]byte(tag + " " + cmd + "\r\n")); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		l, err := bc.br.ReadSlice('\n')
		if err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if len(l) > 2 && l[0] == '*' && strings.Contains(string(l[:min(len(l), 24)]), " FETCH (") {
			if n == 0 {
				bc.firstWait += time.Since(sent)
			}
			n++
		}
		// A line may end in a literal's announcement; its bytes follow.
		for ln := literalLen(l); ln >= 0; ln = literalLen(l) {
			if _, err := bc.br.Discard(ln); err != nil {
				b.Fatal(err)
			}
			if l, err = bc.br.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
		}
		if strings.HasPrefix(string(l), tag+" ") {
			if !strings.HasPrefix(string(l), tag+" OK") {
				b.Fatalf("%s: %s", cmd, l)
			}
			return n
		}
	}
}

// literalLen returns n for a line ending in "{n}\r\n", else -1.
func literalLen(l []byte) int {
	s := strings.TrimSuffix(string(l), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return -1
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return -1
	}
	n := 0
	for _, c := range s[i+1 : len(s)-1] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

var benchNames = []string{
	"Alice Martin", "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=", `"Smith, John (Sales)"`,
	"=?ISO-8859-1?B?RnJhbufvaXMgTGFmb3JnZQ==?=", "Zoë Ångström", "", "O'Brien \\ Co",
	"=?UTF-8?B?5bGx55Sw5aSq6YOO?=", "Dr. Ravi Shankar", "Postmaster",
}

func benchAddr(i, k int) string {
	name := benchNames[(i+k)%len(benchNames)]
	addr := fmt.Sprintf("user%d.%d@%s", (i*7+k)%300, k, []string{"example.com", "mail.example.net", "lists.example.org"}[(i+k)%3])
	if name == "" {
		return addr
	}
	return name + " <" + addr + ">"
}

// variedMessage is message i of the envelope benchmark: one to six To,
// Cc on two in three, a group on one in ten, replies with In-Reply-To,
// encoded and 8-bit subjects, some long enough to fold.
func variedMessage(i int) string {
	var h strings.Builder
	fmt.Fprintf(&h, "From: %s\r\n", benchAddr(i, 0))
	if i%5 == 0 {
		fmt.Fprintf(&h, "Sender: %s\r\n", benchAddr(i, 9))
	}
	if i%4 == 0 {
		fmt.Fprintf(&h, "Reply-To: %s\r\n", benchAddr(i, 8))
	}
	var to []string
	for k := range 1 + i%6 {
		to = append(to, benchAddr(i, k+1))
	}
	fmt.Fprintf(&h, "To: %s\r\n", strings.Join(to, ",\r\n  "))
	if i%3 != 0 {
		fmt.Fprintf(&h, "Cc: %s, %s\r\n", benchAddr(i, 11), benchAddr(i, 12))
	}
	if i%10 == 0 {
		h.WriteString("Bcc: undisclosed-recipients:;\r\n")
	}
	if i%10 == 1 {
		fmt.Fprintf(&h, "Cc: Team (the project): %s, %s;\r\n", benchAddr(i, 13), benchAddr(i, 14))
	}
	subjects := []string{
		"Quarterly report %d",
		"Re: =?UTF-8?Q?R=C3=A9union_de_lundi?= %d",
		"=?UTF-8?B?5Lya6K2w44Gu5LqI5a6a?= %d",
		"Fwd: Re: Re: [project-list] A rather long subject line about the migration plan, the \"timeline\" and what is still missing before we can ship %d",
		"Überweisung Nr. %d",
		"invoice #%d \\ paid",
	}
	fmt.Fprintf(&h, "Subject: %s\r\n", fmt.Sprintf(subjects[i%len(subjects)], i))
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 17 * time.Minute)
	fmt.Fprintf(&h, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Message-ID: <%d.%x@mail.example.com>\r\n", i, i*2654435761)
	if i%2 == 1 {
		fmt.Fprintf(&h, "In-Reply-To: <%d.%x@mail.example.com>\r\n", i-1, (i-1)*2654435761)
		fmt.Fprintf(&h, "References: <%d.%x@mail.example.com>\r\n", i-1, (i-1)*2654435761)
	}
	h.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	h.WriteString(strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 8))
	return h.String()
}

// goIMAPClient logs in to the bench server with go-imap v2, as the
// side-by-side compare's load generator does, with INBOX selected.
func goIMAPClient(b *testing.B, bc *benchConn) *imapclient.Client {
	c, err := imapclient.DialInsecure(bc.c.RemoteAddr().String(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	return c
}

// plainMessage is message i as the compare's load generator writes it
// (../shared/bench/loadgen/msggen.go): one named From, one bare To, an
// ASCII subject, a Message-ID, about 4 KiB of text.
func plainMessage(i int) string {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "report", "meeting", "invoice", "project"}
	var h strings.Builder
	h.WriteString("From: Load Generator <bench@loadgen.bench.test>\r\nTo: <bench2@bench.test>\r\n")
	fmt.Fprintf(&h, "Subject: bench message %d zq%02dx %s %s\r\n", i, i%100, words[i%len(words)], words[(i/10)%len(words)])
	fmt.Fprintf(&h, "Date: %s\r\n", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Message-ID: <bench-2-%d-%d@loadgen.bench.test>\r\n", i, uint64(i)*0x9e3779b97f4a7c15>>1)
	h.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	fmt.Fprintf(&h, "Hello, this is benchmark message %d. Token bt%02dq.\r\n", i, i%100)
	for h.Len() < 4096 {
		h.WriteString("alpha bravo charlie delta echo foxtrot report meeting invoice project\r\n")
	}
	return h.String()
}
