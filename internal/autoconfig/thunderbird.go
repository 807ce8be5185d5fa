package autoconfig

import (
	"encoding/xml"
	"net/http"
)

// The Thunderbird autoconfig file, version 1.1 of the format Mozilla
// publishes ("Thunderbird:Autoconfiguration:ConfigFileFormat"): a
// clientConfig with one emailProvider that lists incoming servers (IMAP,
// POP3) and outgoing ones (SMTP), the preferred first.

type tbConfig struct {
	XMLName  xml.Name   `xml:"clientConfig"`
	Version  string     `xml:"version,attr"`
	Provider tbProvider `xml:"emailProvider"`
}

type tbProvider struct {
	ID               string     `xml:"id,attr"`
	Domain           string     `xml:"domain"`
	DisplayName      string     `xml:"displayName"`
	DisplayShortName string     `xml:"displayShortName"`
	Incoming         []tbServer `xml:"incomingServer"`
	Outgoing         []tbServer `xml:"outgoingServer"`
}

type tbServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"` // SSL, STARTTLS, plain
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
}

// maxAddress bounds an email address (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const maxAddress = 320

// ThunderbirdConfig is the config file for a domain.
func ThunderbirdConfig(s Settings, domain string) ([]byte, error) {
	server := func(typ string, port int, socket string) tbServer {
		return tbServer{Type: typ, Hostname: s.Hostname, Port: port, SocketType: socket,
			Authentication: "password-cleartext", Username: "%EMAILADDRESS%"}
	}
	p := tbProvider{ID: domain, Domain: domain, DisplayName: domain + " mail", DisplayShortName: domain}
	// RFC 8314 §3: implicit TLS first.
	if s.IMAPS > 0 {
		p.Incoming = append(p.Incoming, server("imap", s.IMAPS, "SSL"))
	}
	if s.IMAP > 0 {
		p.Incoming = append(p.Incoming, server("imap", s.IMAP, "STARTTLS"))
	}
	if s.POP3S > 0 {
		p.Incoming = append(p.Incoming, server("pop3", s.POP3S, "SSL"))
	}
	if s.POP3 > 0 {
		p.Incoming = append(p.Incoming, server("pop3", s.POP3, "STARTTLS"))
	}
	if s.Submissions > 0 {
		p.Outgoing = append(p.Outgoing, server("smtp", s.Submissions, "SSL"))
	}
	if s.Submission > 0 {
		p.Outgoing = append(p.Outgoing, server("smtp", s.Submission, "STARTTLS"))
	}
	out, err := xml.MarshalIndent(tbConfig{Version: "1.1", Provider: p}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// serveThunderbird answers for the domain of ?emailaddress=, or else of
// the Host (autoconfig.<domain>).
func (s *Server) serveThunderbird(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	var domain string
	if addr := r.URL.Query().Get("emailaddress"); addr != "" {
		if len(addr) > maxAddress {
			http.Error(w, "emailaddress too long", http.StatusBadRequest)
			return
		}
		domain = domainOf(addr)
	} else {
		domain = hostDomain(r.Host, "autoconfig.")
	}
	if !s.served(w, r, domain) {
		return
	}
	body, err := ThunderbirdConfig(s.settings(), domain)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(body)
}
