package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"

	"postern/internal/store"
)

// outcome is the result of one attempt for one recipient.
type outcome struct {
	status   store.QueueStatus // delivered, failed, or pending (deferred)
	code     string            // enhanced status code for DSNs
	diag     string            // the peer's reply or our reason
	peer     string
	tls      bool
	verified bool
}

// envelope is what every destination of one message shares.
type envelope struct {
	m        store.QueueMessage
	id       string
	head     []byte
	needUTF8 bool
	eightBit bool // the body has octets above 127
	// tlsOptional: the header says "TLS-Required: No" (RFC 8689 §5).
	tlsOptional bool
}

// attempt tries the due recipients of one message, records the outcomes,
// sends the DSNs they call for, and removes the entry once it is done.
func (q *Queue) attempt(ctx context.Context, m store.QueueMessage) {
	now := q.now()
	var due []store.QueueRecipient
	for _, r := range m.Recipients {
		if r.Status == store.QueuePending && !r.NextAttempt.After(now) {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return
	}
	env := envelope{m: m, id: FormatID(m.ID)}
	outcomes := make(map[int64]outcome, len(due))
	hops, err := q.inspect(ctx, &env)
	switch {
	case err != nil:
		for _, r := range due {
			outcomes[r.ID] = outcome{status: store.QueuePending, code: "4.3.0", diag: "reading the queued message: " + err.Error()}
		}
	case hops > maxHops:
		// RFC 5321 §6.3: a message with this many Received fields is looping.
		for _, r := range due {
			outcomes[r.ID] = outcome{status: store.QueueFailed, code: "5.4.6", diag: fmt.Sprintf("routing loop detected: %d Received header fields", hops)}
		}
	default:
		q.deliverAll(ctx, env, due, outcomes)
	}
	q.record(ctx, env, due, outcomes)
}

// inspect reads the header of the message once for every destination.
func (q *Queue) inspect(ctx context.Context, env *envelope) (int, error) {
	rc, err := q.openBody(ctx, env.m)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	head, hops, utf8, err := readHeader(rc)
	if err != nil {
		return 0, err
	}
	env.head = head
	env.tlsOptional = tlsRequiredNo(head)
	env.needUTF8 = utf8 || !isASCII(env.m.Sender)
	for _, r := range env.m.Recipients {
		env.needUTF8 = env.needUTF8 || !isASCII(r.Rcpt)
	}
	rc2, err := q.openBody(ctx, env.m)
	if err != nil {
		return 0, err
	}
	defer rc2.Close()
	env.eightBit, err = has8bit(rc2)
	return hops, err
}

// has8bit reports whether the message has an octet above 127 anywhere.
func has8bit(r io.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b >= 0x80 {
				return true, nil
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// deliverAll groups the recipients by destination (their domain, or the
// relay for all of them) and delivers each group over one connection, the
// groups in parallel.
func (q *Queue) deliverAll(ctx context.Context, env envelope, due []store.QueueRecipient, outcomes map[int64]outcome) {
	groups := map[string][]store.QueueRecipient{}
	var order []string
	for _, r := range due {
		dest := "relay:" + q.opts.RelayHost
		if q.opts.RelayHost == "" {
			dest = strings.ToLower(r.Rcpt[strings.LastIndexByte(r.Rcpt, '@')+1:])
		}
		if _, ok := groups[dest]; !ok {
			order = append(order, dest)
		}
		groups[dest] = append(groups[dest], r)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, dest := range order {
		wg.Go(func() {
			rcpts := groups[dest]
			res := q.deliverGroup(ctx, env, dest, rcpts)
			mu.Lock()
			for i, r := range rcpts {
				outcomes[r.ID] = res[i]
			}
			mu.Unlock()
		})
	}
	wg.Wait()
}

// acquire takes a connection slot for dest, waiting for the per-destination
// cap and the global one.
func (q *Queue) acquire(ctx context.Context, dest string) (release func(), err error) {
	q.mu.Lock()
	sem := q.domains[dest]
	if sem == nil {
		sem = make(chan struct{}, max(q.opts.MaxPerDomain, 1))
		q.domains[dest] = sem
	}
	q.mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case q.slots <- struct{}{}:
	case <-ctx.Done():
		<-sem
		return nil, ctx.Err()
	}
	return func() { <-q.slots; <-sem }, nil
}

func fillOutcomes(n int, o outcome) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// deliverGroup delivers one message to the recipients of one destination.
// Hosts are tried in MX order until one takes part in a transaction
// (RFC 5321 §4.5.4.1: a host that cannot be reached, or refuses the
// connection, sends us to the next).
func (q *Queue) deliverGroup(ctx context.Context, env envelope, dest string, rcpts []store.QueueRecipient) []outcome {
	release, err := q.acquire(ctx, dest)
	if err != nil {
		return fillOutcomes(len(rcpts), outcome{status: store.QueuePending, code: "4.3.2", diag: "shutting down"})
	}
	defer release()
	hosts := []string{q.opts.RelayHost}
	var dp destPolicy
	if q.opts.RelayHost == "" {
		hosts, err = mxHosts(ctx, q.resolver, dest)
		var de *destError
		if errors.As(err, &de) {
			st := store.QueuePending
			if de.perm {
				st = store.QueueFailed
			}
			return fillOutcomes(len(rcpts), outcome{status: st, code: de.status, diag: de.msg})
		}
		var fail *outcome
		if dp, fail = q.destSecurity(ctx, env, dest); fail != nil {
			return fillOutcomes(len(rcpts), *fail)
		}
	}
	last := outcome{status: store.QueuePending, code: "4.4.1", diag: "no MX host of " + dest + " answered"}
	for i, host := range hosts {
		if i == 5 {
			break // enough tries for one attempt
		}
		var hp hostPolicy
		if q.opts.RelayHost == "" {
			var skip *outcome
			if hp, skip = q.hostSecurity(ctx, dp, host); skip != nil {
				q.log.Info("MX host not used", "queue_id", env.id, "host", host, "reason", skip.diag)
				if skip.status == store.QueueFailed {
					return fillOutcomes(len(rcpts), *skip)
				}
				last = *skip
				continue
			}
		}
		res, ok := q.tryHost(ctx, env, host, hp, rcpts)
		if ok {
			return res
		}
		last = res[0]
	}
	return fillOutcomes(len(rcpts), last)
}

// tryHost runs the transaction with one host. ok is false when the host
// could not be reached (then res[0] says why).
func (q *Queue) tryHost(ctx context.Context, env envelope, host string, hp hostPolicy, rcpts []store.QueueRecipient) ([]outcome, bool) {
	// Connections are pooled by what they were verified for.
	key := host
	if hp.mode != "" {
		key += "|" + hp.mode
	}
	for try := 0; try < 2; try++ {
		c, reused, err := q.hostConn(ctx, key, host, hp)
		if err != nil {
			return []outcome{connFailure(host, err)}, false
		}
		if env.m.RequireTLS && (!c.tls || !c.verified || !c.c.has("REQUIRETLS")) {
			// RFC 8689 §4.2.1: only to a verified peer that promises to
			// keep requiring TLS; another MX may be one.
			q.putIdle(key, c)
			return []outcome{{status: store.QueueFailed, code: statusRequireTLS, peer: c.peer, tls: c.tls, verified: c.verified,
				diag: "REQUIRETLS: the receiving server " + c.peer + " does not offer REQUIRETLS over verified TLS"}}, false
		}
		if env.needUTF8 && !c.utf8 {
			// RFC 6531 §3.4: without SMTPUTF8 at the peer, the message
			// cannot be sent; downgrading is not ours to do.
			q.putIdle(key, c)
			return fillOutcomes(len(rcpts), outcome{status: store.QueueFailed, code: "5.6.7", peer: c.peer,
				diag: "the receiving server " + c.peer + " does not support SMTPUTF8, which this message needs (non-ASCII addresses or headers)"}), true
		}
		if env.eightBit && !env.needUTF8 && !c.eightBit {
			// RFC 6152 §3: 8-bit content only to a peer offering 8BITMIME;
			// converting it is not ours to do.
			q.putIdle(key, c)
			return fillOutcomes(len(rcpts), outcome{status: store.QueueFailed, code: "5.6.3", peer: c.peer,
				diag: "the receiving server " + c.peer + " does not support 8BITMIME, which this message needs (8-bit content)"}), true
		}
		res, alive, dropped := q.send(ctx, env, c, rcpts)
		if alive {
			q.putIdle(key, c)
		} else {
			c.close()
		}
		if reused && dropped {
			continue // the idle connection had gone stale: once more on a fresh one
		}
		return res, true
	}
	return []outcome{{status: store.QueuePending, code: "4.4.2", diag: "connection to " + host + " lost"}}, false
}

// maxRefusedWaits bounds how often one attempt waits for a place at a host
// that refused a connection while others were open.
const maxRefusedWaits = 20

// hostConn gives a connection to host: an idle one from the pool, or a new
// one within the host's cap (hostGate). A host that refuses a new
// connection while others to it are open is at its limit: the attempt
// waits for one of them instead of going to the retry backoff.
func (q *Queue) hostConn(ctx context.Context, key, host string, hp hostPolicy) (c *conn, reused bool, err error) {
	for waits := 0; ; waits++ {
		c, release, err := q.acquireHost(ctx, key, host)
		if err != nil {
			return nil, false, err
		}
		if c != nil {
			return c, true, nil
		}
		c, err = q.connect(ctx, host, hp)
		if err == nil {
			c.release = release
			q.gate.connected(host)
			if q.opts.RelayHost == "" {
				q.recordConn(ctx, hp, c)
			}
			return c, false, nil
		}
		release()
		q.recordConnFailure(ctx, hp, err)
		if !refusal(err) || waits >= maxRefusedWaits || !q.gate.refused(host) {
			return nil, false, err
		}
		q.log.Info("queue connection refused while others are open; waiting for one", "host", host, "err", err)
	}
}

// putIdle keeps a connection for the next message to key, and tells the
// attempts waiting for the host.
func (q *Queue) putIdle(key string, c *conn) {
	q.pool.put(key, c, q.now())
	host, _, _ := strings.Cut(key, "|")
	q.gate.idle(host)
}

// connect dials the relay, or the addresses of one MX host in turn.
func (q *Queue) connect(ctx context.Context, host string, hp hostPolicy) (*conn, error) {
	if q.opts.RelayHost != "" {
		return q.dial.dialRelay(ctx, q.resolver)
	}
	ips, err := hostAddrs(ctx, q.resolver, host)
	if err != nil {
		return nil, err
	}
	var last error = errors.New("no addresses")
	for _, ip := range ips {
		c, err := q.dial.dialMX(ctx, host, ip, hp)
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

func connFailure(host string, err error) outcome {
	o := outcome{status: store.QueuePending, code: "4.4.1", diag: fmt.Sprintf("connecting to %s: %v", host, err)}
	var sec *securityError
	if errors.As(err, &sec) {
		o.code = statusSecurityFailed
		o.diag = sec.Error()
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		o.diag = fmt.Sprintf("%s said: %d %s (%v)", host, se.Code, se.Message, err)
		if se.Code >= 500 {
			o.code = "4.4.0" // a refusing greeting is still retried: another MX or later may take it
		}
	}
	return o
}

// send runs one transaction. dropped reports that the connection failed
// before any recipient got an answer.
func (q *Queue) send(ctx context.Context, env envelope, c *conn, rcpts []store.QueueRecipient) (res []outcome, alive, dropped bool) {
	rc, err := q.openBody(ctx, env.m)
	if err != nil {
		return fillOutcomes(len(rcpts), outcome{status: store.QueuePending, code: "4.3.0", diag: err.Error()}), true, false
	}
	defer rc.Close()
	to := make([]rcptArg, len(rcpts))
	for i, r := range rcpts {
		to[i] = rcptArg{addr: r.Rcpt, notify: r.Notify, orcpt: r.ORcpt}
	}
	p := mailParams{size: env.m.Size, utf8: env.needUTF8, eightBit: env.eightBit, envID: env.m.EnvID, requireTLS: env.m.RequireTLS}
	if ret := strings.ToUpper(env.m.Ret); ret == "FULL" || ret == "HDRS" {
		p.ret = ret
	}
	errs, alive := transaction(ctx, c, env.m.Sender, p, to, rc)
	res = make([]outcome, len(rcpts))
	dropped = true
	for i, err := range errs {
		res[i] = classify(err, c)
		if err == nil || isSMTPError(err) {
			dropped = false
		}
	}
	return res, alive, dropped
}

// classify turns a reply into an outcome: 2xx delivered, 5xx failed, the
// rest (4xx, timeouts, broken connections) deferred (RFC 5321 §4.2.1).
func classify(err error, c *conn) outcome {
	o := outcome{peer: c.peer, tls: c.tls, verified: c.verified}
	var se *smtp.SMTPError
	switch {
	case err == nil:
		o.status, o.code, o.diag = store.QueueDelivered, "2.0.0", c.c.accepted
	case errors.As(err, &se):
		o.diag = fmt.Sprintf("%d %s", se.Code, se.Message)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			e := se.EnhancedCode
			o.diag = fmt.Sprintf("%d %d.%d.%d %s", se.Code, e[0], e[1], e[2], se.Message)
			o.code = fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
		}
		if se.Code >= 500 {
			o.status = store.QueueFailed
			if o.code == "" || o.code[0] != '5' {
				o.code = "5.0.0"
			}
		} else {
			o.status = store.QueuePending
			if o.code == "" || o.code[0] != '4' {
				o.code = "4.0.0"
			}
		}
	default:
		o.status, o.code = store.QueuePending, "4.4.2"
		o.diag = "connection with " + c.peer + " broken: " + err.Error()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
			o.diag = "timeout talking to " + c.peer
		}
	}
	return o
}
