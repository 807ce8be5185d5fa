package reports

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"

	"postern/internal/store"
	"postern/internal/tlsrpt"
)

// Payload is one report found in a mail, decompressed.
type Payload struct {
	Kind store.ReportKind
	Data []byte
}

// Limits on what a report mail can make us read.
const (
	MaxMessageSize = 32 << 20
	maxDepth       = 5
	maxParts       = 50
	maxZipEntries  = 10
)

// ErrNotReport is a mail with no report in it.
var ErrNotReport = errors.New("no aggregate report in the message")

// Extract finds the reports in a mail: TLS-RPT attachments
// (application/tlsrpt+gzip or +json, RFC 8460 §5.3) and DMARC ones (XML,
// alone or in zip or gzip, RFC 7489 §7.2.1.1).
func Extract(r io.Reader) ([]Payload, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(r, MaxMessageSize)))
	if err != nil {
		return nil, err
	}
	var out []Payload
	parts := 0
	err = walk(textproto.MIMEHeader(msg.Header), msg.Body, 0, &parts, &out)
	if err != nil {
		return out, err
	}
	if len(out) == 0 {
		return nil, ErrNotReport
	}
	return out, nil
}

func walk(h textproto.MIMEHeader, body io.Reader, depth int, parts *int, out *[]Payload) error {
	*parts++
	if depth > maxDepth || *parts > maxParts {
		return errors.New("report mail nested too deep or with too many parts")
	}
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header, p, depth+1, parts, out); err != nil {
				return err
			}
		}
	}
	name := strings.ToLower(params["name"])
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = strings.ToLower(dp["filename"])
	}
	kind, compression := classify(mt, name)
	if kind == "" {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(decode(h.Get("Content-Transfer-Encoding"), body), MaxMessageSize))
	if err != nil {
		return err
	}
	data, err := decompress(raw, compression, kind)
	if err != nil {
		return fmt.Errorf("%s report attachment %q: %w", kind, name, err)
	}
	*out = append(*out, Payload{Kind: kind, Data: data})
	return nil
}

// classify tells a report attachment by its media type and file name.
func classify(mt, name string) (store.ReportKind, string) {
	switch {
	case mt == "application/tlsrpt+gzip":
		return store.ReportTLS, "gzip"
	case mt == "application/tlsrpt+json":
		return store.ReportTLS, ""
	case strings.HasSuffix(name, ".json.gz"):
		return store.ReportTLS, "gzip"
	case strings.HasSuffix(name, ".xml.gz"), mt == "application/gzip", mt == "application/x-gzip":
		return store.ReportDMARC, "gzip"
	case strings.HasSuffix(name, ".zip"), mt == "application/zip", mt == "application/x-zip-compressed":
		return store.ReportDMARC, "zip"
	case strings.HasSuffix(name, ".xml"), mt == "text/xml" || mt == "application/xml":
		return store.ReportDMARC, ""
	}
	return "", ""
}

func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks of base64 text.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		k := 0
		for _, b := range p[:n] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[k] = b
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

func limitFor(kind store.ReportKind) int64 {
	if kind == store.ReportTLS {
		return tlsrpt.MaxReportSize
	}
	return MaxXMLSize
}

// decompress inflates an attachment, refusing one that inflates beyond
// the report's size limit (a decompression bomb).
func decompress(raw []byte, compression string, kind store.ReportKind) ([]byte, error) {
	limit := limitFor(kind)
	read := func(r io.Reader) ([]byte, error) {
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("decompresses to more than %d bytes", limit)
		}
		return data, nil
	}
	switch compression {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		return read(zr)
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return nil, err
		}
		if len(zr.File) > maxZipEntries {
			return nil, errors.New("too many files in the zip")
		}
		for _, f := range zr.File {
			if !strings.HasSuffix(strings.ToLower(f.Name), ".xml") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return read(rc)
		}
		return nil, errors.New("no XML file in the zip")
	}
	return read(bytes.NewReader(raw))
}
