package authcheck

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxARCInstances is the longest chain (RFC 8617 §4.2.1).
const maxARCInstances = 50

type arcResult struct {
	result string // none, pass, fail (RFC 8617 §4.4)
	reason string
}

// arcSet is one instance of the chain: its three fields.
type arcSet struct {
	aar, ams, seal *field
}

// checkARC validates the message's ARC chain (RFC 8617 §5.2). The result
// goes into Authentication-Results; no verdict rests on it.
func (c *Checker) checkARC(ctx context.Context, in Input, fields []field) arcResult {
	sets, err := arcSets(fields)
	switch {
	case err != nil:
		return arcResult{result: "fail", reason: err.Error()}
	case len(sets) == 0:
		return arcResult{result: "none"}
	}
	n := len(sets)
	for i := 1; i <= n; i++ {
		tags, _ := tagList(sets[i].seal.value())
		want := "pass"
		if i == 1 {
			want = "none"
		}
		if cv := strings.ToLower(tags["cv"]); cv != want {
			return arcResult{result: "fail", reason: fmt.Sprintf("instance %d has cv=%s", i, cv)}
		}
	}
	if err := c.verifyAMS(ctx, in, fields, sets[n]); err != nil {
		return arcResult{result: "fail", reason: fmt.Sprintf("message signature %d: %v", n, err)}
	}
	for i := n; i >= 1; i-- {
		if err := c.verifySeal(ctx, sets, i); err != nil {
			return arcResult{result: "fail", reason: fmt.Sprintf("seal %d: %v", i, err)}
		}
	}
	return arcResult{result: "pass", reason: fmt.Sprintf("%d instances", n)}
}

// arcSets gathers the chain by instance and checks its shape (RFC 8617
// §5.1.1): instances 1 to N, each with exactly one field of each kind.
func arcSets(fields []field) (map[int]*arcSet, error) {
	sets := map[int]*arcSet{}
	for i := range fields {
		f := &fields[i]
		var slot func(*arcSet) **field
		switch strings.ToLower(f.name) {
		case "arc-seal":
			slot = func(s *arcSet) **field { return &s.seal }
		case "arc-message-signature":
			slot = func(s *arcSet) **field { return &s.ams }
		case "arc-authentication-results":
			slot = func(s *arcSet) **field { return &s.aar }
		default:
			continue
		}
		inst := arcInstance(f.value())
		if inst < 1 || inst > maxARCInstances {
			return nil, fmt.Errorf("%s with a bad instance", f.name)
		}
		if sets[inst] == nil {
			sets[inst] = &arcSet{}
		}
		p := slot(sets[inst])
		if *p != nil {
			return nil, fmt.Errorf("two %s fields of instance %d", f.name, inst)
		}
		*p = f
	}
	for i := 1; i <= len(sets); i++ {
		s := sets[i]
		if s == nil || s.aar == nil || s.ams == nil || s.seal == nil {
			return nil, fmt.Errorf("instance %d missing or incomplete", i)
		}
	}
	return sets, nil
}

// arcInstance reads the i= tag an ARC field starts with (or, for a seal
// and a signature, has anywhere); 0 when there is none.
func arcInstance(value string) int {
	for _, part := range strings.Split(value, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == "i" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}

// verifyAMS checks an ARC-Message-Signature: DKIM's rules (RFC 8617
// §4.1.2) but that it may not sign ARC-Seal fields.
func (c *Checker) verifyAMS(ctx context.Context, in Input, fields []field, set *arcSet) error {
	tags, err := tagList(set.ams.value())
	if err != nil {
		return err
	}
	for _, t := range []string{"a", "b", "bh", "d", "h", "s"} {
		if tags[t] == "" {
			return fmt.Errorf("tag %s missing", t)
		}
	}
	headerCanon, bodyCanon, _ := strings.Cut(tags["c"], "/")
	names := strings.Split(tags["h"], ":")
	for _, n := range names {
		if strings.EqualFold(strings.TrimSpace(n), "ARC-Seal") {
			return errors.New("signs an ARC-Seal")
		}
	}
	limit := int64(-1)
	if l, ok := tags["l"]; ok {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil || limit < 0 {
			return errors.New("bad l= tag")
		}
	}
	start := headerEnd(in, fields)
	got, err := bodyHash(io.NewSectionReader(in.Message, start, in.Size-start), bodyCanon == "relaxed", limit)
	if err != nil {
		return err
	}
	want, err := base64.StdEncoding.DecodeString(tags["bh"])
	if err != nil || string(want) != string(got) {
		return errors.New("body hash does not match")
	}
	relaxed := headerCanon == "relaxed"
	var data strings.Builder
	for _, raw := range selectFields(fields, names) {
		data.WriteString(canonHeader(raw, relaxed))
	}
	data.WriteString(strings.TrimSuffix(canonHeader(withoutSignature(set.ams.raw), relaxed), "\r\n"))
	return c.checkSigned(ctx, tags, data.String())
}

// verifySeal checks the ARC-Seal of instance i over the sets 1 to i
// (RFC 8617 §5.1.1): relaxed fields, AAR, AMS, AS of each in turn, this
// seal last without its signature.
func (c *Checker) verifySeal(ctx context.Context, sets map[int]*arcSet, i int) error {
	tags, err := tagList(sets[i].seal.value())
	if err != nil {
		return err
	}
	for _, t := range []string{"a", "b", "d", "s"} {
		if tags[t] == "" {
			return fmt.Errorf("tag %s missing", t)
		}
	}
	var data strings.Builder
	for j := 1; j <= i; j++ {
		data.WriteString(relaxedHeader(sets[j].aar.raw))
		data.WriteString(relaxedHeader(sets[j].ams.raw))
		if j < i {
			data.WriteString(relaxedHeader(sets[j].seal.raw))
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(withoutSignature(sets[i].seal.raw)), "\r\n"))
	return c.checkSigned(ctx, tags, data.String())
}

// checkSigned fetches the key of d= and s= and checks b= over data.
func (c *Checker) checkSigned(ctx context.Context, tags map[string]string, data string) error {
	key, err := c.fetchKey(ctx, tags["s"], tags["d"])
	if err != nil {
		return errors.New(err.(*dkimError).reason)
	}
	sig, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil {
		return errors.New("malformed signature")
	}
	return verifySignature(tags["a"], key, []byte(data), sig)
}

// headerEnd is the offset of the body: after the fields and the empty
// line.
func headerEnd(in Input, fields []field) int64 {
	var n int64
	for _, f := range fields {
		n += int64(len(f.raw))
	}
	sep := make([]byte, 2)
	if k, _ := in.Message.ReadAt(sep, n); k == 2 && string(sep) == "\r\n" {
		n += 2
	}
	return min(n, in.Size)
}
