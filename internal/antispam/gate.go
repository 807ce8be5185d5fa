// Package antispam is the gate of port 25 before DATA: DNS blocklists
// (RFC 5782), rate limits per client network and per sender domain, and
// optional greylisting (RFC 6647). It decides; the SMTP server turns each
// refusal into its reply. Authenticated submission never meets it.
package antispam

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Refusal reasons, the label of the rejections metric.
const (
	ReasonDNSBL            = "dnsbl"
	ReasonConnectionRate   = "rate_connections"
	ReasonMessageRate      = "rate_messages"
	ReasonRecipientRate    = "rate_recipients"
	ReasonSenderDomainRate = "rate_sender_domain"
	ReasonGreylist         = "greylist"
)

// Reasons lists every refusal reason (for metrics at zero).
var Reasons = []string{ReasonDNSBL, ReasonConnectionRate, ReasonMessageRate,
	ReasonRecipientRate, ReasonSenderDomainRate, ReasonGreylist}

// Refusal is the gate's answer to a client it turns away: an SMTP code,
// enhanced code and text.
type Refusal struct {
	Code     int
	Enhanced [3]int
	Text     string
	Reason   string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Text)
}

// Options configure a Gate. Zero limits are off.
type Options struct {
	// DNSBL zones, e.g. "zen.spamhaus.org"; Resolver asks them with
	// DNSBLTimeout for all zones together.
	DNSBL        []string
	Resolver     Resolver
	DNSBLTimeout time.Duration
	// Trusted networks skip every check (loopback, own relays).
	Trusted []netip.Prefix

	ConnectionsPerMinute int
	MessagesPerHour      int
	RecipientsPerHour    int
	SenderDomainPerHour  int
	// MaxTracked caps the keys each limit and the blocklist cache hold.
	MaxTracked int

	// Greylist, when not nil, turns greylisting on.
	Greylist *GreylistOptions

	Logger *slog.Logger
	// OnRefuse is told of every refusal (metrics).
	OnRefuse func(reason string)
	Now      func() time.Time
}

// Gate holds the state of the checks, shared by every connection.
type Gate struct {
	o        Options
	dnsbl    *dnsbl
	conns    *bucketSet[netip.Prefix]
	messages *bucketSet[netip.Prefix]
	rcpts    *bucketSet[netip.Prefix]
	domains  *bucketSet[string]
	grey     *greylist
	// connLog allows one log line a minute per client refused at connect:
	// a flood of connections is counted in full but logged in brief.
	connLog *bucketSet[netip.Prefix]
}

// dnsblCacheTTL is how long a blocklist answer is reused: the lists update
// every few minutes, and a sender retrying within that gets the same answer.
const dnsblCacheTTL = 10 * time.Minute

// New builds a gate.
func New(o Options) *Gate {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = 100000
	}
	if o.DNSBLTimeout <= 0 {
		o.DNSBLTimeout = 5 * time.Second
	}
	g := &Gate{o: o,
		conns:    newBucketSet[netip.Prefix](o.ConnectionsPerMinute, time.Minute, o.MaxTracked),
		messages: newBucketSet[netip.Prefix](o.MessagesPerHour, time.Hour, o.MaxTracked),
		rcpts:    newBucketSet[netip.Prefix](o.RecipientsPerHour, time.Hour, o.MaxTracked),
		domains:  newBucketSet[string](o.SenderDomainPerHour, time.Hour, o.MaxTracked),
		connLog:  newBucketSet[netip.Prefix](1, time.Minute, o.MaxTracked),
	}
	if len(o.DNSBL) > 0 && o.Resolver != nil {
		g.dnsbl = &dnsbl{zones: o.DNSBL, resolver: o.Resolver, timeout: o.DNSBLTimeout,
			ttl: dnsblCacheTTL, maxCache: o.MaxTracked}
	}
	if o.Greylist != nil && o.Greylist.Store != nil {
		g.grey = &greylist{GreylistOptions: *o.Greylist}
	}
	return g
}

// Greylisting reports whether greylisting is on.
func (g *Gate) Greylisting() bool { return g != nil && g.grey != nil }

func (g *Gate) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.o.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Client is one connection seen by the gate.
type Client struct {
	g       *Gate
	ip      netip.Addr
	trusted bool

	// The blocklist answer, looked up from the connection on so that it
	// is ready by the first RCPT; done closes when it is in.
	done   chan struct{}
	result dnsblResult
	// logged holds the reasons already logged for this connection: one
	// line each, however many commands are refused for it.
	mu     sync.Mutex
	logged map[string]bool
}

// Greylisting reports whether the gate that admitted c greylists.
func (c *Client) Greylisting() bool { return c.g.Greylisting() }

// Connect admits a new connection from ip, or refuses it (421) when the
// address opens connections faster than its limit. The blocklist lookup
// starts here, in the background.
func (g *Gate) Connect(ip netip.Addr) (*Client, *Refusal) {
	c := &Client{g: g, ip: ip.Unmap(), trusted: g.trusted(ip)}
	if c.trusted {
		return c, nil
	}
	if now := g.o.Now(); !g.conns.take(clientKey(ip), now) {
		r := &Refusal{Code: 421, Enhanced: [3]int{4, 7, 0}, Reason: ReasonConnectionRate,
			Text: fmt.Sprintf("Too many connections from your address (limit %d per minute), try again later", g.o.ConnectionsPerMinute)}
		g.refused(r, g.connLog.take(clientKey(ip), now), "remote", c.ip.String())
		return nil, r
	}
	if g.dnsbl != nil {
		c.done = make(chan struct{})
		go func() {
			defer close(c.done)
			c.result = g.dnsbl.check(context.Background(), c.ip, g.o.Now())
			if len(c.result.failed) > 0 {
				g.o.Logger.Warn("dnsbl lookup failed", "remote", c.ip.String(), "zones", strings.Join(c.result.failed, ","))
			}
		}()
	}
	return c, nil
}

// refused counts a refusal, and logs it when log is set.
func (g *Gate) refused(r *Refusal, log bool, args ...any) {
	if log {
		g.o.Logger.Info("antispam refusal", append([]any{"reason", r.Reason}, args...)...)
	}
	if g.o.OnRefuse != nil {
		g.o.OnRefuse(r.Reason)
	}
}

// first reports whether reason is refused for the first time on this
// connection.
func (c *Client) first(reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logged[reason] {
		return false
	}
	if c.logged == nil {
		c.logged = make(map[string]bool)
	}
	c.logged[reason] = true
	return true
}

// Mail checks a new transaction from sender ("" for the null sender):
// the client's message rate and the sender domain's.
func (c *Client) Mail(sender string) *Refusal {
	if c == nil || c.trusted {
		return nil
	}
	g := c.g
	now := g.o.Now()
	if !g.messages.take(clientKey(c.ip), now) {
		r := &Refusal{Code: 451, Enhanced: [3]int{4, 7, 1}, Reason: ReasonMessageRate,
			Text: fmt.Sprintf("Too many messages from your address (limit %d per hour), try again later", g.o.MessagesPerHour)}
		g.refused(r, c.first(r.Reason), "remote", c.ip.String(), "from", sender)
		return r
	}
	if _, domain, ok := strings.Cut(sender, "@"); ok && domain != "" {
		if !g.domains.take(strings.ToLower(domain), now) {
			r := &Refusal{Code: 451, Enhanced: [3]int{4, 7, 1}, Reason: ReasonSenderDomainRate,
				Text: fmt.Sprintf("Too many messages from sender domain %s (limit %d per hour), try again later", strings.ToLower(domain), g.o.SenderDomainPerHour)}
			g.refused(r, c.first(r.Reason), "remote", c.ip.String(), "from", sender, "domain", strings.ToLower(domain))
			return r
		}
	}
	return nil
}

// Rcpt checks one recipient: the blocklists, then the client's recipient
// rate. Greylisting is asked separately (Greylist), once the recipient
// is known to exist.
func (c *Client) Rcpt(ctx context.Context, sender, rcpt string) *Refusal {
	if c == nil || c.trusted {
		return nil
	}
	g := c.g
	if r := c.listed(ctx, sender, rcpt); r != nil {
		return r
	}
	if !g.rcpts.take(clientKey(c.ip), g.o.Now()) {
		r := &Refusal{Code: 451, Enhanced: [3]int{4, 7, 1}, Reason: ReasonRecipientRate,
			Text: fmt.Sprintf("Too many recipients from your address (limit %d per hour), try again later", g.o.RecipientsPerHour)}
		g.refused(r, c.first(r.Reason), "remote", c.ip.String(), "from", sender, "rcpt", rcpt)
		return r
	}
	return nil
}

// listed waits for the blocklist answer and refuses a listed client with
// 554 5.7.1 and the list's reason. Postfix's postscreen and the lists'
// own advice do the same: reject at RCPT rather than at the greeting, so
// that the log shows who the mail was from and for.
func (c *Client) listed(ctx context.Context, sender, rcpt string) *Refusal {
	if c.done == nil {
		return nil
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil
	}
	l := c.result.listing
	if l == nil {
		return nil
	}
	text := fmt.Sprintf("Service unavailable; client [%s] blocked using %s", c.ip, l.Zone)
	if l.Reason != "" {
		text += ": " + l.Reason
	}
	r := &Refusal{Code: 554, Enhanced: [3]int{5, 7, 1}, Reason: ReasonDNSBL, Text: text}
	c.g.refused(r, c.first(r.Reason), "remote", c.ip.String(), "zone", l.Zone, "answer", l.Answer.String(), "from", sender, "rcpt", rcpt)
	return r
}

// Greylist decides on the triplet of this client's network, sender and
// recipient: nil lets it through. A store failure lets it through too:
// greylisting delays mail, it must never lose it.
func (c *Client) Greylist(ctx context.Context, sender, rcpt string) *Refusal {
	if c == nil || c.trusted || c.g.grey == nil {
		return nil
	}
	g := c.g
	network := groupOf(c.ip, 24, 64).String()
	v, err := g.grey.check(ctx, network, sender, rcpt, g.o.Now())
	if err != nil {
		g.o.Logger.Error("greylist store failed, letting the message through", "remote", c.ip.String(), "err", err)
		return nil
	}
	if v.newlyHit {
		g.o.Logger.Info("greylist passed", "remote", c.ip.String(), "network", network, "from", sender, "rcpt", rcpt)
	}
	if !v.defer_ {
		return nil
	}
	secs := int(v.retryIn.Round(time.Second) / time.Second)
	r := &Refusal{Code: 451, Enhanced: [3]int{4, 7, 1}, Reason: ReasonGreylist,
		Text: fmt.Sprintf("Greylisted, please try again in %d seconds", max(secs, 1))}
	g.refused(r, true, "remote", c.ip.String(), "network", network, "from", sender, "rcpt", rcpt, "retry_in", secs)
	return r
}
