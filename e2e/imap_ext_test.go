package e2e

import (
	"bufio"
	"compress/flate"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// TestIMAPExtQuotaImaplib: the account's quota, set with the CLI, as
// Python's imaplib reads it (GETQUOTAROOT, GETQUOTA), and APPEND past it
// refused with [OVERQUOTA] (RFC 9208).
func TestIMAPExtQuotaImaplib(t *testing.T) {
	s := mailServer(t, nil)
	s.CLI("", "user", "quota", alice, "10240", "2").mustOK(t)
	host, port, _ := net.SplitHostPort(s.Addr["imap"])
	p, _ := strconv.Atoi(port)
	var out struct {
		Capabilities []string
		Quotaroot    []any
		Quota        []any
		Appends      [][]any
		Error        *string
	}
	runPy(t, "imap_quota.py", map[string]any{"host": host, "port": p, "user": alice, "pass": pass, "appends": 3}, &out)
	if out.Error != nil {
		t.Fatalf("imaplib: %s", *out.Error)
	}
	caps := strings.Join(out.Capabilities, " ")
	for _, c := range []string{"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"} {
		if !strings.Contains(" "+caps+" ", " "+c+" ") {
			t.Errorf("capability %s missing: %s", c, caps)
		}
	}
	qr := fmt.Sprint(out.Quotaroot)
	if !strings.Contains(qr, `INBOX ""`) || !strings.Contains(qr, `"" (STORAGE 0 10 MESSAGE 0 2)`) {
		t.Errorf("GETQUOTAROOT: %s", qr)
	}
	if q := fmt.Sprint(out.Quota); !strings.Contains(q, `"" (STORAGE 0 10 MESSAGE 0 2)`) {
		t.Errorf("GETQUOTA: %s", q)
	}
	if len(out.Appends) != 3 || out.Appends[0][0] != "OK" || out.Appends[1][0] != "OK" ||
		out.Appends[2][0] != "NO" || !strings.Contains(fmt.Sprint(out.Appends[2][1]), "OVERQUOTA") {
		t.Errorf("appends: %v", out.Appends)
	}
}

// countConn counts the bytes read from the socket.
type countConn struct {
	net.Conn
	n int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	return n, err
}

// deflateClient is an IMAP client after COMPRESS DEFLATE, written for
// this test with compress/flate (RFC 4978): every command ends with a
// sync flush, every response is inflated as it comes.
type deflateClient struct {
	t    *testing.T
	raw  *countConn
	fw   *flate.Writer
	r    *bufio.Reader
	tag  int
	sent int64
}

func (c *deflateClient) cmd(line string, lits ...string) (untagged []string, tagged string) {
	c.t.Helper()
	c.tag++
	tag := "t" + strconv.Itoa(c.tag)
	io.WriteString(c.fw, tag+" "+line+"\r\n")
	for _, l := range lits {
		io.WriteString(c.fw, l)
	}
	if err := c.fw.Flush(); err != nil {
		c.t.Fatal(err)
	}
	for {
		c.raw.SetReadDeadline(time.Now().Add(30 * time.Second))
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		// A literal in a response: read it whole.
		if i := strings.LastIndexByte(l, '{'); i >= 0 && strings.HasSuffix(l, "}") {
			n, _ := strconv.Atoi(l[i+1 : len(l)-1])
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			l += string(buf)
		}
		untagged = append(untagged, l)
	}
}

// TestIMAPExtCompress: a whole session after COMPRESS DEFLATE with a Go
// client built on compress/flate: APPEND of a large message, SELECT,
// FETCH of its body and of envelopes, IDLE woken by an SMTP delivery.
func TestIMAPExtCompress(t *testing.T) {
	s := mailServer(t, nil)
	c := dialRaw(t, s.Addr["imap"])
	c.line() // greeting
	_, tagged := c.imapLines("a", "LOGIN "+alice+` "`+pass+`"`, "OK")
	if !strings.Contains(tagged, "COMPRESS=DEFLATE") {
		t.Fatalf("LOGIN capabilities: %q", tagged)
	}
	c.imapLines("b", "COMPRESS DEFLATE", "OK")
	if c.r.Buffered() != 0 {
		t.Fatal("uncompressed data after the COMPRESS OK")
	}
	raw := &countConn{Conn: c.c}
	fw, _ := flate.NewWriter(raw, flate.DefaultCompression)
	dc := &deflateClient{t: t, raw: raw, fw: fw, r: bufio.NewReader(flate.NewReader(raw))}

	var b strings.Builder
	b.WriteString("From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: big one\r\n\r\n")
	for i := 0; b.Len() < 300<<10; i++ {
		fmt.Fprintf(&b, "line %d of a long and repetitive report that compresses well\r\n", i)
	}
	body := b.String()
	_, tagged = dc.cmd("APPEND INBOX {"+strconv.Itoa(len(body))+"+}", body+"\r\n")
	if !strings.Contains(tagged, "OK [APPENDUID") {
		t.Fatalf("APPEND: %q", tagged)
	}
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("From: a@example.test\r\nSubject: note %d\r\n\r\nhello %d\r\n", i, i)
		if _, tagged = dc.cmd("APPEND INBOX {"+strconv.Itoa(len(msg))+"+}", msg+"\r\n"); !strings.Contains(tagged, "OK") {
			t.Fatalf("APPEND %d: %q", i, tagged)
		}
	}
	if _, tagged = dc.cmd("SELECT INBOX"); !strings.Contains(tagged, "OK") {
		t.Fatalf("SELECT: %q", tagged)
	}
	got, tagged := dc.cmd("FETCH 1 BODY.PEEK[]")
	if !strings.Contains(tagged, "OK") || len(got) != 2 || !strings.HasSuffix(got[0], body) {
		t.Fatalf("FETCH body: %q (%d lines)", tagged, len(got))
	}
	before := raw.n
	got, tagged = dc.cmd("FETCH 1:* (UID FLAGS ENVELOPE)")
	if !strings.Contains(tagged, "OK") || len(got) != 51 {
		t.Fatalf("FETCH envelopes: %q %d", tagged, len(got))
	}
	plain := int64(0)
	for _, l := range got {
		plain += int64(len(l) + 2)
	}
	t.Logf("FETCH 1:51 (UID FLAGS ENVELOPE): %d bytes inflated from %d on the wire", plain, raw.n-before)
	if raw.n-before >= plain/2 {
		t.Errorf("responses not compressed: %d bytes for %d", raw.n-before, plain)
	}
	_, tagged = dc.cmd("COMPRESS DEFLATE")
	if !strings.Contains(tagged, "NO [COMPRESSIONACTIVE]") {
		t.Fatalf("second COMPRESS: %q", tagged)
	}
	// IDLE in the compressed stream, woken by a delivery over SMTP.
	io.WriteString(dc.fw, "i IDLE\r\n")
	dc.fw.Flush()
	if l, _ := dc.r.ReadString('\n'); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, uniq(), "hi\r\n"))
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l, _ := dc.r.ReadString('\n'); !strings.HasPrefix(l, "* 52 EXISTS") {
		t.Fatalf("IDLE push: %q", l)
	}
	io.WriteString(dc.fw, "DONE\r\n")
	dc.fw.Flush()
	for {
		l, err := dc.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "i ") {
			break
		}
	}
	if _, tagged = dc.cmd("LOGOUT"); !strings.Contains(tagged, "OK") {
		t.Fatalf("LOGOUT: %q", tagged)
	}
}

// TestIMAPExtClient: go-imap's client against the real binary for
// CREATE-SPECIAL-USE, LIST-EXTENDED with LIST-STATUS, STATUS SIZE,
// APPENDLIMIT and DELETED-STORAGE, UTF8=ACCEPT; then an atomic
// MULTIAPPEND on the raw protocol.
func TestIMAPExtClient(t *testing.T) {
	s := mailServer(t, map[string]any{"imap.append_limit": 1 << 20})
	c := dialIMAP(t, s)
	for _, cp := range []imap.Cap{"CREATE-SPECIAL-USE", "LIST-EXTENDED", "MULTIAPPEND", "UTF8=ACCEPT", "BINARY", "APPENDLIMIT"} {
		if !c.Caps().Has(cp) {
			t.Errorf("capability %s missing", cp)
		}
	}
	if _, err := c.Enable(imap.CapUTF8Accept).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Entwürfe/Alt", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrDrafts}}).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", &imap.ListOptions{
		SelectSpecialUse: true, ReturnStatus: &imap.StatusOptions{NumMessages: true, Size: true, AppendLimit: true},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var found *imap.ListData
	for _, l := range list {
		if l.Mailbox == "Entwürfe/Alt" {
			found = l
		}
	}
	if len(list) != 6 || found == nil || found.Status == nil || found.Status.AppendLimit == nil || *found.Status.AppendLimit != 1<<20 {
		t.Fatalf("LIST (SPECIAL-USE) RETURN (STATUS): %d entries, %+v", len(list), found)
	}
	// MULTIAPPEND: all three or none.
	rc := dialRaw(t, s.Addr["imap"])
	rc.line()
	rc.imapLines("a", "LOGIN "+alice+` "`+pass+`"`, "OK")
	rc.write("b APPEND INBOX (\\Seen) {5+}\r\none\r\n {5+}\r\ntwo\r\n ~{8+}\r\nthr\x00ee\r\n\r\n")
	if got, _ := rc.imapLines("c", "NOOP", "OK"); len(got) != 1 || !strings.HasPrefix(got[0], "b OK [APPENDUID ") || !strings.Contains(got[0], " 1:3]") {
		t.Fatalf("MULTIAPPEND: %q", got)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, Size: true, DeletedStorage: true}).Wait()
	// The literal8 with a NUL is stored base64-encoded under a
	// Content-Transfer-Encoding field (RFC 3516; BODY[] sends no NUL):
	// 5 + 5 + 37 + 14 octets.
	if err != nil || *st.NumMessages != 3 || *st.Size != 61 || *st.DeletedStorage != 0 {
		t.Fatalf("STATUS after MULTIAPPEND: messages %d size %d deleted %d, %v", *st.NumMessages, *st.Size, *st.DeletedStorage, err)
	}
	s.CLI("", "user", "quota", alice, "0", "4").mustOK(t)
	_, tagged := rc.imapLines("d", "APPEND INBOX {1+}\r\n1 {1+}\r\n2", "NO")
	if !strings.Contains(tagged, "[OVERQUOTA]") {
		t.Fatalf("MULTIAPPEND over quota: %q", tagged)
	}
	if st, err = c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil || *st.NumMessages != 3 {
		t.Fatalf("a refused MULTIAPPEND stored something: %+v %v", st, err)
	}
}

// TestIMAPExtURLAuthImaplib: CATENATE (RFC 4469), URLAUTH (RFC 4467) with
// URLAUTH=BINARY (RFC 5524) and CONTEXT=SORT (RFC 5267) against the
// binary, through Python's imaplib as two users: a message built from URLs
// to another one's parts, a URL authorised for bob that only bob can
// fetch and that RESETKEY revokes, a part fetched decoded, and a live
// SORT told of new mail with its position.
func TestIMAPExtURLAuthImaplib(t *testing.T) {
	s := mailServer(t, nil)
	host, port, _ := net.SplitHostPort(s.Addr["imap"])
	p, _ := strconv.Atoi(port)
	msg := "From: carol@example.test\r\nSubject: m report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"
	var out struct {
		Capabilities []string
		Catenate     []any
		Catenated    []string
		Genurlauth   []any
		FetchUser2   []any `json:"fetch_user2"`
		FetchOwner   []any `json:"fetch_owner"`
		FetchBinary  []any `json:"fetch_binary"`
		AfterReset   []any `json:"after_reset"`
		Sort         []any
		SortUpdate   []string `json:"sort_update"`
		Error        *string
	}
	runPy(t, "imap_urlauth.py", map[string]any{"host": host, "port": p, "user": alice, "pass": pass,
		"user2": bob, "pass2": pass, "message": msg}, &out)
	if out.Error != nil {
		t.Fatalf("imaplib: %s", *out.Error)
	}
	caps := " " + strings.Join(out.Capabilities, " ") + " "
	for _, c := range []string{"CATENATE", "URLAUTH", "URLAUTH=BINARY", "CONTEXT=SORT"} {
		if !strings.Contains(caps, " "+c+" ") {
			t.Errorf("capability %s missing: %s", c, caps)
		}
	}
	if fmt.Sprint(out.Catenate[0]) != "OK" {
		t.Errorf("APPEND CATENATE: %v", out.Catenate)
	}
	header := msg[:strings.Index(msg, "\r\n\r\n")+4]
	if got := strings.Join(out.Catenated, ""); !strings.Contains(got, header+"See the file.") {
		t.Errorf("catenated message: %q", got)
	}
	url := fmt.Sprint(out.Genurlauth[1])
	if !strings.Contains(url, ";URLAUTH=user+"+bob+":INTERNAL:") {
		t.Fatalf("GENURLAUTH: %v", out.Genurlauth)
	}
	if got := fmt.Sprint(out.FetchUser2[1]); !strings.Contains(got, "Content-Type: multipart/mixed") || !strings.Contains(got, "aGVsbG8=") {
		t.Errorf("bob's URLFETCH: %v", out.FetchUser2)
	}
	if got := fmt.Sprint(out.FetchOwner[1]); !strings.HasSuffix(got, " NIL]") {
		t.Errorf("the owner fetched a URL for bob: %v", out.FetchOwner)
	}
	if got := fmt.Sprint(out.FetchBinary[1]); !strings.Contains(got, "(BINARY {5}hello") {
		t.Errorf("URLFETCH BINARY: %v", out.FetchBinary)
	}
	if got := fmt.Sprint(out.AfterReset[1]); !strings.HasSuffix(got, " NIL]") {
		t.Errorf("URLFETCH after RESETKEY: %v", out.AfterReset)
	}
	if got := fmt.Sprint(out.Sort); !strings.Contains(got, "UID ALL 1") {
		t.Errorf("SORT RETURN (ALL UPDATE): %v", out.Sort)
	}
	if got := strings.Join(out.SortUpdate, " "); !strings.Contains(got, "UID ADDTO (1 2)") {
		t.Errorf("the new message sorts first: %q", got)
	}
}
