package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// An Apple configuration profile: a property list whose one payload of
// type com.apple.mail.managed sets up an IMAP account with its SMTP
// server. The password is not in it: the device asks for it.

// MobileConfig is the profile for address.
func MobileConfig(s Settings, address string) ([]byte, error) {
	domain := domainOf(address)
	if domain == "" || len(address) > maxAddress {
		return nil, fmt.Errorf("%q is not an address", address)
	}
	inPort, inSSL := s.IMAPS, true
	if inPort == 0 {
		inPort, inSSL = s.IMAP, false
	}
	outPort, outSSL := s.Submissions, true
	if outPort == 0 {
		outPort, outSSL = s.Submission, false
	}
	if inPort == 0 || outPort == 0 {
		return nil, fmt.Errorf("IMAP or submission is not served")
	}
	rev := reverseDNS(s.Hostname)
	mail := []kv{
		{"EmailAccountDescription", address},
		{"EmailAccountName", address},
		{"EmailAccountType", "EmailTypeIMAP"},
		{"EmailAddress", address},
		{"IncomingMailServerAuthentication", "EmailAuthPassword"},
		{"IncomingMailServerHostName", s.Hostname},
		{"IncomingMailServerPortNumber", inPort},
		{"IncomingMailServerUseSSL", inSSL},
		{"IncomingMailServerUsername", address},
		{"OutgoingMailServerAuthentication", "EmailAuthPassword"},
		{"OutgoingMailServerHostName", s.Hostname},
		{"OutgoingMailServerPortNumber", outPort},
		{"OutgoingMailServerUseSSL", outSSL},
		{"OutgoingMailServerUsername", address},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "Mail account " + address},
		{"PayloadDisplayName", address},
		{"PayloadIdentifier", rev + ".mail." + uuidOf("mail", address)},
		{"PayloadType", "com.apple.mail.managed"},
		{"PayloadUUID", uuidOf("mail", address)},
		{"PayloadVersion", 1},
	}
	profile := []kv{
		{"PayloadContent", []any{mail}},
		{"PayloadDescription", "Mail settings for " + address},
		{"PayloadDisplayName", "Mail (" + address + ")"},
		{"PayloadIdentifier", rev + ".profile." + uuidOf("profile", address)},
		{"PayloadOrganization", domain},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", uuidOf("profile", address)},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	writePlist(&b, profile)
	b.WriteString("\n</plist>\n")
	return b.Bytes(), nil
}

type kv struct {
	k string
	v any
}

func writePlist(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case []kv:
		b.WriteString("<dict>")
		for _, e := range t {
			b.WriteString("<key>")
			_ = xml.EscapeText(b, []byte(e.k))
			b.WriteString("</key>")
			writePlist(b, e.v)
		}
		b.WriteString("</dict>")
	case []any:
		b.WriteString("<array>")
		for _, e := range t {
			writePlist(b, e)
		}
		b.WriteString("</array>")
	case string:
		b.WriteString("<string>")
		_ = xml.EscapeText(b, []byte(t))
		b.WriteString("</string>")
	case int:
		b.WriteString("<integer>" + strconv.Itoa(t) + "</integer>")
	case bool:
		if t {
			b.WriteString("<true/>")
		} else {
			b.WriteString("<false/>")
		}
	}
}

// uuidOf is a stable UUID (version 8 layout) for a payload of an address:
// installing the profile again replaces the old one instead of adding a
// second account.
func uuidOf(kind, address string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + strings.ToLower(address)))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// reverseDNS is the host name reversed, the identifier convention.
func reverseDNS(host string) string {
	parts := strings.Split(strings.ToLower(host), ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".")
}

// MobileConfigHandler serves the profile of the account the request
// belongs to: address returns it, or "" when the request carries no
// session (401). The webmail mounts it at GET /webmail/mobileconfig
// behind its session; this package does not know sessions.
func (s *Server) MobileConfigHandler(address func(r *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		addr := address(r)
		if addr == "" {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		body, err := MobileConfig(s.settings(), addr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/x-apple-aspen-config")
		w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(domainOf(addr), `"`, "")+`.mobileconfig"`)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}
