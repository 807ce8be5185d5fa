package mtasts

import (
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\nmx: *.example.net\r\nmax_age: 604800\r\nfuture: x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Enforce || p.MaxAge != 604800 || len(p.MX) != 2 {
		t.Fatalf("policy %+v", p)
	}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "a.example.net": true,
		"example.net": false, "a.b.example.net": false, "other.example.com": false,
	} {
		if got := p.AllowsMX(host); got != want {
			t.Errorf("AllowsMX(%q) = %v, want %v", host, got, want)
		}
	}
	if s := p.String(); !strings.HasPrefix(s, "version: STSv1\nmode: enforce\nmx: mail.example.com") {
		t.Errorf("String() = %q", s)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, body := range []string{
		"",
		"version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1\n",
		"version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a.b\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -5\n",
		"version: STSv1\nmode: enforce\nmx: a*.b\nmax_age: 1\n",
		"version: STSv1\nmode enforce\n",
		"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n" + strings.Repeat("x", MaxPolicySize),
	} {
		if p, err := ParsePolicy([]byte(body)); err == nil {
			t.Errorf("ParsePolicy(%.60q) = %+v, want an error", body, p)
		}
	}
	// mode none needs no mx; a huge max_age is capped at a year.
	p, err := ParsePolicy([]byte("version: STSv1\nmode: none\nmax_age: 99999999\n"))
	if err != nil || p.MaxAge != maxMaxAge {
		t.Fatalf("none policy %+v, %v", p, err)
	}
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		txts  []string
		id    string
		found bool
		err   bool
	}{
		{[]string{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z", true, false},
		{[]string{"v=spf1 -all", "v=STSv1;id=abc"}, "abc", true, false},
		{[]string{"v=spf1 -all"}, "", false, false},
		{[]string{"v=STSv1; id=a", "v=STSv1; id=b"}, "", false, true},
		{[]string{"v=STSv1; id=not-alnum"}, "", false, true},
		{[]string{"v=STSv1;"}, "", false, true},
	} {
		id, found, err := ParseRecord(tc.txts)
		if id != tc.id || found != tc.found || (err != nil) != tc.err {
			t.Errorf("ParseRecord(%q) = %q, %v, %v", tc.txts, id, found, err)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"))
	f.Add([]byte("version: STSv1\nmode: none\nmax_age: 0\n"))
	f.Add([]byte("mx: *.\n:\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePolicy(body)
		if err != nil {
			return
		}
		// A parsed policy prints as a policy that parses the same.
		q, err := ParsePolicy([]byte(p.String()))
		if err != nil || q.Mode != p.Mode || q.MaxAge != p.MaxAge || len(q.MX) != len(p.MX) {
			t.Fatalf("reparse of %q: %+v, %v", p.String(), q, err)
		}
		for _, mx := range p.MX {
			p.AllowsMX(mx)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Fuzz(func(t *testing.T, txt string) {
		id, found, err := ParseRecord([]string{txt})
		if err == nil && found && (id == "" || len(id) > 32) {
			t.Fatalf("id %q from %q", id, txt)
		}
	})
}
