package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"hash"
	"net/netip"
	"strings"

	"github.com/xdg-go/scram"

	"postern/internal/store"
)

// SCRAM mechanism names (RFC 7677; -PLUS adds channel binding, RFC 5802 §6).
const (
	MechSCRAM     = "SCRAM-SHA-256"
	MechSCRAMPlus = "SCRAM-SHA-256-PLUS"
)

// maxSCRAMMessage bounds a client SCRAM message; real ones are < 300 bytes.
const maxSCRAMMessage = 4096

// ErrSCRAM is returned for a malformed or refused SCRAM exchange that is not
// a wrong password (bad syntax, channel binding mismatch).
var ErrSCRAM = errors.New("auth: SCRAM exchange failed")

// ChannelBinding is what a SCRAM server needs of its TLS connection: the
// connection state for tls-exporter (RFC 9266) and the server certificate
// for tls-server-end-point (RFC 5929). A zero value means no TLS: -PLUS is
// then refused.
type ChannelBinding struct {
	State *tls.ConnectionState
	// ServerCert is the DER certificate the server presented.
	ServerCert []byte
}

// SCRAMServer runs one SCRAM-SHA-256[-PLUS] exchange on a Service. Its Next
// has the shape of a go-sasl Server, so protocol servers can hand it over
// as is. A login succeeds with the account password's keys or with any app
// password's keys (derived with the same salt).
type SCRAMServer struct {
	svc    *Service
	ctx    context.Context
	remote netip.Addr
	cb     ChannelBinding
	plus   bool

	conv   *scram.ServerConversation
	user   string
	c1bare string
	s1     string
	step   int
	asked  bool // the empty challenge for the client-first message went out
	// Account is the account, once the exchange succeeded.
	Account store.Account
}

// NewSCRAMServer starts an exchange for mech (MechSCRAM or MechSCRAMPlus).
func (s *Service) NewSCRAMServer(ctx context.Context, remote netip.Addr, mech string, cb ChannelBinding) *SCRAMServer {
	return &SCRAMServer{svc: s, ctx: ctx, remote: remote, cb: cb, plus: strings.EqualFold(mech, MechSCRAMPlus)}
}

// Next implements the go-sasl Server shape: it takes the client's message
// and returns the server's; done comes with the client's empty answer to
// the server-final message.
func (x *SCRAMServer) Next(response []byte) (challenge []byte, done bool, err error) {
	if len(response) > maxSCRAMMessage {
		return nil, true, ErrSCRAM
	}
	x.step++
	switch x.step {
	case 1:
		if len(response) == 0 && !x.asked {
			// SASL initial response absent: ask for the client-first message.
			x.step, x.asked = 0, true
			return []byte{}, false, nil
		}
		out, err := x.first(string(response))
		return []byte(out), false, err
	case 2:
		// The server-final message goes out as a challenge; the client
		// answers it with an empty response (RFC 4954 §4 has no success
		// data, nor does the IMAP profile need it).
		out, err := x.final(string(response))
		return []byte(out), false, err
	case 3:
		if len(response) != 0 || x.Account.ID == 0 {
			return nil, true, ErrSCRAM
		}
		return nil, true, nil
	}
	return nil, true, ErrSCRAM
}

// first handles the client-first message (RFC 5802 §5.1): it picks the
// channel binding the client names, then looks up the keys.
func (x *SCRAMServer) first(c1 string) (string, error) {
	flag, rest, ok := strings.Cut(c1, ",")
	_, bare, ok2 := strings.Cut(rest, ",")
	if !ok || !ok2 {
		return "", ErrSCRAM
	}
	// RFC 5802 §6: -PLUS requires "p=", and "p=" requires -PLUS.
	if x.plus != strings.HasPrefix(flag, "p=") {
		return "", ErrSCRAM
	}
	x.c1bare = bare
	lookup := func(name string) (scram.StoredCredentials, error) {
		x.user = name
		keys, err := x.svc.SCRAMCredentials(x.ctx, x.remote, name)
		if err != nil {
			return scram.StoredCredentials{}, err
		}
		return keys.Credentials(), nil
	}
	srv, err := scram.SHA256.NewServer(lookup)
	if err != nil {
		return "", err
	}
	if x.cb.State == nil {
		x.conv = srv.NewConversation()
	} else {
		// Advertised (we offer -PLUS over TLS): a "y" client is a downgrade.
		b, err := x.binding(strings.TrimPrefix(flag, "p="))
		if err != nil {
			return "", ErrSCRAM
		}
		if x.plus {
			x.conv = srv.NewConversationWithChannelBindingRequired(b)
		} else {
			x.conv = srv.NewConversationWithChannelBinding(b)
		}
	}
	s1, err := x.conv.Step(c1)
	if errors.Is(err, ErrThrottled) {
		return "", ErrThrottled
	}
	if err != nil {
		return "", ErrSCRAM
	}
	x.s1 = s1
	return s1, nil
}

// binding returns the channel binding data of type typ; for "n" and "y"
// clients it is only what the conversation says was advertised.
func (x *SCRAMServer) binding(typ string) (scram.ChannelBinding, error) {
	switch typ {
	case string(scram.ChannelBindingTLSServerEndpoint):
		return serverEndPoint(x.cb.ServerCert)
	default:
		return scram.NewTLSExporterBinding(x.cb.State)
	}
}

// final checks the client-final message; a proof that fails against the
// account keys is tried against each app password's keys.
func (x *SCRAMServer) final(c2 string) (string, error) {
	s2, err := x.conv.Step(c2)
	var app *store.AppPassword
	if err != nil && s2 == scram.ErrInvalidProof {
		// Channel binding and nonce were checked before the proof.
		app, s2 = x.tryAppPasswords(c2)
	} else if err != nil {
		return "", ErrSCRAM
	}
	valid := x.conv.Valid() || app != nil
	if z := x.conv.AuthzID(); z != "" && !strings.EqualFold(z, x.user) {
		// Acting as another user (RFC 5802 §5.1 a=) is not offered.
		valid, app = false, nil
	}
	acct, err := x.svc.scramResult(x.ctx, x.remote, x.user, valid, app)
	if err != nil {
		return "", err
	}
	x.Account = acct
	return s2, nil
}

// tryAppPasswords verifies the proof of c2 (RFC 5802 §3) against the keys
// of each app password of the user that share the salt just sent.
func (x *SCRAMServer) tryAppPasswords(c2 string) (*store.AppPassword, string) {
	i := strings.LastIndex(c2, ",p=")
	if i < 0 {
		return nil, ""
	}
	proof, err := base64.StdEncoding.DecodeString(c2[i+3:])
	if err != nil || len(proof) != sha256.Size {
		return nil, ""
	}
	authMsg := []byte(x.c1bare + "," + x.s1 + "," + c2[:i])
	acct, known, err := x.svc.lookup(x.ctx, normalizeUsername(x.user))
	if err != nil || !known {
		return nil, ""
	}
	apps, err := x.svc.dir.AppPasswords(x.ctx, acct.ID)
	if err != nil {
		return nil, ""
	}
	for j := range apps {
		k, err := ParseSCRAM(apps[j].SCRAMSHA256)
		if err != nil {
			continue
		}
		sig := hmac.New(sha256.New, k.StoredKey)
		sig.Write(authMsg)
		clientKey := sig.Sum(nil)
		for n := range clientKey {
			clientKey[n] ^= proof[n]
		}
		stored := sha256.Sum256(clientKey)
		if hmac.Equal(stored[:], k.StoredKey) {
			v := hmac.New(sha256.New, k.ServerKey)
			v.Write(authMsg)
			return &apps[j], "v=" + base64.StdEncoding.EncodeToString(v.Sum(nil))
		}
	}
	return nil, ""
}

// serverEndPoint is the tls-server-end-point binding (RFC 5929 §4.1): the
// hash of the server certificate, with the certificate's signature hash, or
// SHA-256 when that is MD5 or SHA-1.
func serverEndPoint(der []byte) (scram.ChannelBinding, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return scram.ChannelBinding{}, err
	}
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = sha512.New384()
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = sha512.New()
	default:
		// SHA-256 signatures, MD5/SHA-1 ones by the rule, and Ed25519,
		// which names no hash (RFC 5929 leaves it open; clients use SHA-256).
		h = sha256.New()
	}
	h.Write(cert.Raw)
	return scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: h.Sum(nil)}, nil
}
