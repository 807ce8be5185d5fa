package autoconfig

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Microsoft Autodiscover, the POX ("plain old XML") protocol of Outlook:
// the client posts an Autodiscover request with its EMailAddress and the
// response schema it accepts; the answer lists the IMAP, POP3 and SMTP
// servers with their ports and TLS ("SSL on" with Encryption SSL for
// implicit TLS, TLS for STARTTLS).

// The namespaces of the request and of the answer.
const (
	nsRequest         = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	nsResponse        = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsOutlookResponse = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// Limits of a request: Outlook's is a few hundred bytes.
const (
	maxRequestBytes = 16 << 10
	maxDepth        = 8
	maxTokens       = 256
)

// ErrBadRequest is an Autodiscover request that does not parse.
var ErrBadRequest = errors.New("bad autodiscover request")

// ADRequest is what the request asks.
type ADRequest struct {
	EmailAddress string
	// ResponseSchema is the AcceptableResponseSchema ("" when absent).
	ResponseSchema string
}

// ParseAutodiscover reads an Autodiscover request, within the limits:
// at most maxRequestBytes, maxDepth levels, maxTokens tokens; no DTD.
func ParseAutodiscover(r io.Reader) (ADRequest, error) {
	lr := &io.LimitedReader{R: r, N: maxRequestBytes + 1}
	d := xml.NewDecoder(lr)
	d.Strict = true
	var req ADRequest
	var path []string
	for tokens := 0; ; tokens++ {
		if tokens > maxTokens {
			return req, fmt.Errorf("%w: too many elements", ErrBadRequest)
		}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if lr.N <= 0 {
			return req, fmt.Errorf("%w: larger than %d bytes", ErrBadRequest, maxRequestBytes)
		}
		if err != nil {
			return req, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			if len(path) > maxDepth {
				return req, fmt.Errorf("%w: nested too deep", ErrBadRequest)
			}
			if len(path) == 1 && t.Name.Local != "Autodiscover" {
				return req, fmt.Errorf("%w: root element %q", ErrBadRequest, t.Name.Local)
			}
		case xml.EndElement:
			path = path[:len(path)-1]
		case xml.CharData:
			if len(path) != 3 || path[1] != "Request" {
				continue
			}
			v := strings.TrimSpace(string(t))
			switch path[2] {
			case "EMailAddress":
				req.EmailAddress += v
			case "AcceptableResponseSchema":
				req.ResponseSchema += v
			}
		case xml.Directive:
			return req, fmt.Errorf("%w: directives are not accepted", ErrBadRequest)
		}
	}
	if len(req.EmailAddress) > maxAddress || domainOf(req.EmailAddress) == "" {
		return req, fmt.Errorf("%w: no valid EMailAddress", ErrBadRequest)
	}
	return req, nil
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	XMLNS    string   `xml:"xmlns,attr"`
	Response struct {
		XMLNS   string `xml:"xmlns,attr"`
		Account struct {
			AccountType string       `xml:"AccountType"`
			Action      string       `xml:"Action"`
			Protocols   []adProtocol `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

type adProtocol struct {
	Type           string `xml:"Type"`
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"`
	SPA            string `xml:"SPA"`
	SSL            string `xml:"SSL"`
	Encryption     string `xml:"Encryption"`
	AuthRequired   string `xml:"AuthRequired"`
}

// AutodiscoverResponse is the answer for an address.
func AutodiscoverResponse(s Settings, address string) ([]byte, error) {
	var resp adResponse
	resp.XMLNS, resp.Response.XMLNS = nsResponse, nsOutlookResponse
	acct := &resp.Response.Account
	acct.AccountType, acct.Action = "email", "settings"
	add := func(typ string, port int, implicit bool) {
		if port == 0 {
			return
		}
		p := adProtocol{Type: typ, Server: s.Hostname, Port: port, LoginName: address,
			DomainRequired: "off", SPA: "off", SSL: "on", Encryption: "TLS", AuthRequired: "on"}
		if implicit {
			p.Encryption = "SSL"
		}
		acct.Protocols = append(acct.Protocols, p)
	}
	// Outlook takes the first protocol of each type: implicit TLS first.
	if s.IMAPS > 0 {
		add("IMAP", s.IMAPS, true)
	} else {
		add("IMAP", s.IMAP, false)
	}
	if s.POP3S > 0 {
		add("POP3", s.POP3S, true)
	} else {
		add("POP3", s.POP3, false)
	}
	if s.Submissions > 0 {
		add("SMTP", s.Submissions, true)
	} else {
		add("SMTP", s.Submission, false)
	}
	out, err := xml.MarshalIndent(resp, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// serveAutodiscover answers a POSTed request (a GET gets 405: Outlook
// always posts).
func (s *Server) serveAutodiscover(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	req, err := ParseAutodiscover(http.MaxBytesReader(w, r.Body, maxRequestBytes+1))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.ResponseSchema != "" && req.ResponseSchema != nsOutlookResponse {
		// Mobile (ActiveSync) schemas are not served.
		http.Error(w, "response schema "+strconv.Quote(req.ResponseSchema)+" is not supported", http.StatusBadRequest)
		return
	}
	if !s.served(w, r, domainOf(req.EmailAddress)) {
		return
	}
	body, err := AutodiscoverResponse(s.settings(), req.EmailAddress)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(body)
}
