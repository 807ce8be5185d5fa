package dmarcrpt

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	for _, c := range []struct {
		uri  string
		want Destination
		err  string
	}{
		{"mailto:dmarc@Example.COM", Destination{Address: "dmarc@example.com"}, ""},
		{" MAILTO:rua@example.com!10m ", Destination{Address: "rua@example.com", MaxSize: 10 << 20}, ""},
		{"mailto:rua@example.com!512", Destination{Address: "rua@example.com", MaxSize: 512}, ""},
		{"mailto:rua@example.com!2k", Destination{Address: "rua@example.com", MaxSize: 2048}, ""},
		{"mailto:rua@example.com!1T", Destination{Address: "rua@example.com", MaxSize: 1 << 40}, ""},
		{"mailto:a%2Cb@example.com?subject=x", Destination{Address: "a,b@example.com"}, "bad address"},
		{"mailto:r%21a@example.com", Destination{Address: "r!a@example.com"}, ""},
		{"https://example.com/rua", Destination{}, "not a mailto"},
		{"mailto:rua@example.com!", Destination{}, "bad size"},
		{"mailto:rua@example.com!10x", Destination{}, "bad size"},
		{"mailto:rua@example.com!99999999999999999", Destination{}, "bad size"},
		{"mailto:rua@example.com!9999999999t", Destination{}, "bad size"},
		{"mailto:norua", Destination{}, "bad address"},
		{"mailto:a@b@example.com", Destination{}, "bad address"},
		{"mailto:rua@exa mple.com", Destination{}, "bad domain"},
		{"mailto:rua@[192.0.2.1]", Destination{}, "bad domain"},
		{"mailto:rua@example.com%", Destination{}, "%-encoding"},
		{"mailto:" + strings.Repeat("a", 300) + "@example.com", Destination{}, "too long"},
	} {
		got, err := ParseURI(c.uri)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%q: %+v, %v; want %+v", c.uri, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %+v, %v; want an error with %q", c.uri, got, err, c.err)
		}
	}
}

func TestParseRUA(t *testing.T) {
	dests, ignored := ParseRUA([]string{"mailto:a@example.com", "https://x.example/", "", "mailto:A@example.com",
		"mailto:b@example.com!1m", "mailto:c@x.test", "mailto:d@x.test", "mailto:e@x.test", "mailto:f@x.test"})
	if len(dests) != maxDestinations || dests[0].Address != "a@example.com" || dests[1].MaxSize != 1<<20 {
		t.Fatalf("destinations %+v", dests)
	}
	if len(ignored) != 2 || !strings.Contains(ignored[0], "not a mailto") || !strings.Contains(ignored[1], "more than") {
		t.Fatalf("ignored %q", ignored)
	}
}

// FuzzParseURI: a rua URI comes from anyone's DNS.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"mailto:dmarc@example.com", "mailto:a@b.c!10m", "mailto:%zz@x", "https://x/", "mailto:a@b!", "mailto:@!9t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		d, err := ParseURI(uri)
		if err != nil {
			return
		}
		local, domain, ok := strings.Cut(d.Address, "@")
		if !ok || local == "" || !isHostname(domain) || len(d.Address) > maxAddress || d.MaxSize < 0 ||
			strings.ContainsAny(d.Address, "\r\n <>") {
			t.Fatalf("%q accepted as %+v", uri, d)
		}
	})
}
