package reportmail

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestMailParses: the mail reads back with net/mail and mime/multipart:
// the header fields, the text and the attachment, intact.
func TestMailParses(t *testing.T) {
	report := bytes.Repeat([]byte("<record>1</record>\n"), 200)
	gz, err := Gzip(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, reportType := range []string{"", "tlsrpt"} {
		raw := Mail{FromName: "Reports", From: "r@mx.example.org", To: "rua@example.com", Subject: "Report Domain: example.com",
			Header: [][2]string{{"X-Report", "1"}}, ReportType: reportType, Text: "hello\r\n",
			AttachmentType: "application/gzip", AttachmentName: "a!b!1!2.xml.gz", Attachment: gz,
			Date: time.Unix(0, 0), MessageIDHost: "mx.example.org"}.Bytes()
		if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("bare LF in the mail")
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if msg.Header.Get("Subject") != "Report Domain: example.com" || msg.Header.Get("X-Report") != "1" ||
			msg.Header.Get("Auto-Submitted") != "auto-generated" || !strings.HasSuffix(msg.Header.Get("Message-ID"), "@mx.example.org>") {
			t.Errorf("header %v", msg.Header)
		}
		mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if (reportType == "" && mt != "multipart/mixed") || (reportType != "" && (mt != "multipart/report" || params["report-type"] != reportType)) {
			t.Errorf("Content-Type %s %v", mt, params)
		}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		text, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(text); string(b) != "hello\r\n" {
			t.Errorf("text %q", b)
		}
		att, err := mr.NextPart()
		if err != nil || att.FileName() != "a!b!1!2.xml.gz" {
			t.Fatalf("attachment %v, %v", att, err)
		}
		zr, err := gzip.NewReader(base64.NewDecoder(base64.StdEncoding, att))
		if err != nil {
			t.Fatal(err)
		}
		if back, _ := io.ReadAll(zr); !bytes.Equal(back, report) {
			t.Errorf("attachment changed: %d bytes back", len(back))
		}
	}
}
