package reports

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
	"postern/internal/store/sqlstore"
	"postern/internal/tlsrpt"
)

const dmarcXML = `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>receiver.test</org_name>
    <email>noreply-dmarc@receiver.test</email>
    <report_id>r-42</report_id>
    <date_range><begin>1772582400</begin><end>1772668799</end></date_range>
  </report_metadata>
  <policy_published><domain>example.org</domain><adkim>r</adkim><aspf>r</aspf><p>quarantine</p><pct>100</pct></policy_published>
  <record>
    <row><source_ip>192.0.2.10</source_ip><count>5</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.org</header_from></identifiers>
    <auth_results><dkim><domain>example.org</domain><selector>s1</selector><result>pass</result></dkim>
      <spf><domain>example.org</domain><result>fail</result></spf></auth_results>
  </record>
  <record>
    <row><source_ip>198.51.100.7</source_ip><count>3</count>
      <policy_evaluated><disposition>quarantine</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.org</header_from></identifiers>
    <auth_results><spf><domain>forger.test</domain><result>fail</result></spf></auth_results>
  </record>
</feedback>`

func TestParseDMARC(t *testing.T) {
	f, err := ParseDMARC([]byte(dmarcXML))
	if err != nil {
		t.Fatal(err)
	}
	total, failed := f.Totals()
	if f.Metadata.OrgName != "receiver.test" || f.Policy.Domain != "example.org" || total != 8 || failed != 3 {
		t.Fatalf("%+v total %d failed %d", f, total, failed)
	}
	for _, bad := range []string{"", "<feedback/>", "<feedback><report_metadata><org_name>x</org_name></report_metadata></feedback>", dmarcXML[:200]} {
		if _, err := ParseDMARC([]byte(bad)); err == nil {
			t.Errorf("ParseDMARC(%.40q) accepted", bad)
		}
	}
}

func mailWith(ctype, name string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: noreply-dmarc@receiver.test\r\nTo: postmaster@example.org\r\nSubject: Report Domain: example.org\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nA report.\r\n--b1\r\n")
	fmt.Fprintf(&b, "Content-Type: %s; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"%s\"\r\n\r\n", ctype, name, name)
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b1--\r\n")
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zipped(name string, data []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, _ := w.Create(name)
	f.Write(data)
	w.Close()
	return b.Bytes()
}

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name string
		mail []byte
	}{
		{"zip", mailWith("application/zip", "receiver.test!example.org!1772582400!1772668799.zip", zipped("report.xml", []byte(dmarcXML)))},
		{"gzip", mailWith("application/gzip", "receiver.test!example.org!1772582400!1772668799.xml.gz", gz([]byte(dmarcXML)))},
		{"xml", mailWith("text/xml", "report.xml", []byte(dmarcXML))},
	} {
		p, err := Extract(bytes.NewReader(tc.mail))
		if err != nil || len(p) != 1 || p[0].Kind != store.ReportDMARC || !bytes.Equal(p[0].Data, []byte(dmarcXML)) {
			t.Errorf("%s: %v, %v", tc.name, p, err)
		}
	}
	if _, err := Extract(strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != ErrNotReport {
		t.Errorf("plain mail: %v", err)
	}
	// A gzip that inflates past the limit is refused, not read whole.
	bomb := gz(bytes.Repeat([]byte("<"), MaxXMLSize+10))
	if _, err := Extract(bytes.NewReader(mailWith("application/gzip", "r.xml.gz", bomb))); err == nil || !strings.Contains(err.Error(), "decompresses") {
		t.Errorf("bomb: %v", err)
	}
}

func TestIngest(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenDir(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := NewIngester(st, nil, nil)
	// A TLS report as our own sender makes it.
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	rep := tlsrpt.Build(day, "example.org", "sender.test", "tls@sender.test", []store.TLSResult{
		{PolicyDomain: "example.org", PolicyType: "sts", MXHost: "mx.example.org", Sessions: 10},
		{PolicyDomain: "example.org", PolicyType: "sts", MXHost: "mx.example.org", ResultType: "certificate-expired", Sessions: 1},
	})
	z, err := tlsrpt.Gzip(rep)
	if err != nil {
		t.Fatal(err)
	}
	tlsMail := tlsrpt.Message(rep, "example.org", "MAILER-DAEMON@sender.test", "postmaster@example.org", z, day)
	dmarcMail := mailWith("application/zip", "r.zip", zipped("r.xml", []byte(dmarcXML)))
	for _, m := range [][]byte{tlsMail, dmarcMail} {
		if n, err := in.Ingest(ctx, "reporter@sender.test", "example.org", bytes.NewReader(m)); err != nil || n != 1 {
			t.Fatalf("Ingest: %d, %v", n, err)
		}
	}
	if n, err := in.Ingest(ctx, "reporter@sender.test", "example.org", bytes.NewReader(dmarcMail)); err != nil || n != 0 {
		t.Fatalf("duplicate Ingest: %d, %v", n, err)
	}
	// A report about example.org mailed to another domain's postmaster is
	// not stored.
	other := mailWith("application/zip", "r.zip", zipped("r.xml", []byte(strings.Replace(dmarcXML, "r-42", "r-43", 1))))
	if n, err := in.Ingest(ctx, "reporter@sender.test", "other.test", bytes.NewReader(other)); err == nil || n != 0 {
		t.Fatalf("report for another domain: %d, %v", n, err)
	}
	tls, err := st.Reports(ctx, store.ReportTLS, nil, 10)
	if err != nil || len(tls) != 1 || tls[0].Domain != "example.org" || tls[0].Total != 11 || tls[0].Failed != 1 || tls[0].OrgName != "sender.test" {
		t.Fatalf("TLS reports %+v, %v", tls, err)
	}
	dm, err := st.Reports(ctx, store.ReportDMARC, []string{"example.org"}, 10)
	if err != nil || len(dm) != 1 || dm[0].Total != 8 || dm[0].Failed != 3 || !strings.Contains(dm[0].JSON, "198.51.100.7") {
		t.Fatalf("DMARC reports %+v, %v", dm, err)
	}
	if other, _ := st.Reports(ctx, store.ReportDMARC, []string{"other.test"}, 10); len(other) != 0 {
		t.Fatalf("reports of another domain: %+v", other)
	}
}

func FuzzParseDMARC(f *testing.F) {
	f.Add([]byte(dmarcXML))
	f.Add([]byte("<feedback><record><row><count>-1</count></row></record></feedback>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fb, err := ParseDMARC(data)
		if err == nil {
			if total, failed := fb.Totals(); failed > total {
				t.Fatalf("failed %d > total %d", failed, total)
			}
		}
	})
}

func FuzzExtract(f *testing.F) {
	f.Add(mailWith("application/zip", "r.zip", zipped("r.xml", []byte(dmarcXML))))
	f.Add(mailWith("application/tlsrpt+gzip", "r.json.gz", gz([]byte(`{"policies":[]}`))))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := Extract(bytes.NewReader(data))
		for _, x := range p {
			if int64(len(x.Data)) > limitFor(x.Kind) {
				t.Fatalf("payload of %d bytes past the limit", len(x.Data))
			}
		}
	})
}
