// Package autoconfig tells mail clients how to reach this server, and
// remote MTAs how to send to it securely:
//
//   - Thunderbird's autoconfig, GET /.well-known/autoconfig/mail/config-v1.1.xml
//     (also asked of the autoconfig.<domain> host, and at /mail/config-v1.1.xml);
//   - Microsoft Autodiscover, POST /autodiscover/autodiscover.xml (and the
//     /Autodiscover/Autodiscover.xml spelling Outlook uses);
//   - an Apple configuration profile (.mobileconfig) for one account
//     (MobileConfig: the webmail mounts it behind its session);
//   - the MTA-STS policy (RFC 8461), GET /.well-known/mta-sts.txt, for the
//     mta-sts.<domain> host.
//
// Every answer is made from Settings (the config's hostname, ports and
// TLS): nothing here reads the database except to tell whether a domain
// is served (Options.IsLocalDomain). internal/web mounts Handler on the
// http listener; any Host works.
package autoconfig

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Settings are what clients are told.
type Settings struct {
	// Hostname is the name clients connect to (the certificate's).
	Hostname string
	// Ports of each service; 0 when it is off.
	IMAPS, IMAP, POP3S, POP3, Submissions, Submission int
	// MTASTSMode is "testing", "enforce" or "none"; MTASTSMaxAge the
	// policy's lifetime.
	MTASTSMode   string
	MTASTSMaxAge time.Duration
}

// Options build the handlers.
type Options struct {
	Settings Settings
	// IsLocalDomain tells whether mail for a domain is served here: other
	// domains get 404, so the server does not advertise itself for them.
	// nil answers for any domain.
	IsLocalDomain func(ctx context.Context, domain string) (bool, error)
	// Current, when set, gives the settings at each request instead of
	// Settings (the ports of listeners bound to port 0 are known only
	// once they listen).
	Current func() Settings
}

// Server holds the handlers.
type Server struct {
	fixed   Settings
	current func() Settings
	local   func(ctx context.Context, domain string) (bool, error)
}

// settings are the settings to answer with now.
func (s *Server) settings() Settings {
	if s.current == nil {
		return s.fixed
	}
	st := s.current()
	if st.MTASTSMaxAge <= 0 {
		st.MTASTSMaxAge = s.fixed.MTASTSMaxAge
	}
	return st
}

// New returns the handlers for these settings.
func New(o Options) *Server {
	if o.Settings.MTASTSMaxAge <= 0 {
		o.Settings.MTASTSMaxAge = 7 * 24 * time.Hour
	}
	return &Server{fixed: o.Settings, current: o.Current, local: o.IsLocalDomain}
}

// Paths are the paths Handler serves, for the mux of the http listener.
var Paths = []string{
	"/.well-known/autoconfig/mail/config-v1.1.xml",
	"/mail/config-v1.1.xml",
	"/autodiscover/autodiscover.xml",
	"/Autodiscover/Autodiscover.xml",
	"/.well-known/mta-sts.txt",
}

// Handler serves every path of Paths.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.ToLower(r.URL.Path) {
		case "/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml":
			s.serveThunderbird(w, r)
		case "/autodiscover/autodiscover.xml":
			s.serveAutodiscover(w, r)
		case "/.well-known/mta-sts.txt":
			s.serveMTASTS(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// maxDomain bounds a domain name (RFC 1035 §2.3.4).
const maxDomain = 253

// domainOf is the domain of an address, lower-cased; "" when addr is not
// one.
func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return ""
	}
	return cleanDomain(addr[at+1:])
}

// cleanDomain checks a domain name's characters and length; "" when it is
// not one.
func cleanDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if d == "" || len(d) > maxDomain {
		return ""
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return ""
		}
	}
	return d
}

// hostDomain is the domain a request's Host names: autoconfig.example.org
// and mta-sts.example.org stand for example.org.
func hostDomain(host, prefix string) string {
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(h, "]") {
		host = h
	}
	d := cleanDomain(host)
	return strings.TrimPrefix(d, prefix)
}

// served answers 404 (and false) for a domain not served here.
func (s *Server) served(w http.ResponseWriter, r *http.Request, domain string) bool {
	if domain == "" {
		http.Error(w, "no mail domain in the request", http.StatusBadRequest)
		return false
	}
	if s.local == nil {
		return true
	}
	ok, err := s.local(r.Context(), domain)
	if err != nil {
		http.Error(w, "temporary failure", http.StatusServiceUnavailable)
		return false
	}
	if !ok {
		http.Error(w, "no mail service for "+domain+" here", http.StatusNotFound)
		return false
	}
	return true
}

// serveMTASTS serves the policy (RFC 8461 §3.2): CRLF-terminated
// key: value lines, text/plain.
func (s *Server) serveMTASTS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	if s.local != nil {
		if d := hostDomain(r.Host, "mta-sts."); d != "" && d != s.settings().Hostname {
			if !s.served(w, r, d) {
				return
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(MTASTSPolicy(s.settings())))
}

// MTASTSPolicy is the policy text for these settings.
func MTASTSPolicy(s Settings) string {
	mode := s.MTASTSMode
	if mode == "" {
		mode = "testing"
	}
	var b strings.Builder
	b.WriteString("version: STSv1\r\n")
	b.WriteString("mode: " + mode + "\r\n")
	b.WriteString("mx: " + s.Hostname + "\r\n")
	b.WriteString("max_age: " + strconv.Itoa(int(s.MTASTSMaxAge/time.Second)) + "\r\n")
	return b.String()
}
