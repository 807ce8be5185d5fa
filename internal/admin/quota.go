package admin

import (
	"math/big"
	"strconv"
	"strings"
)

// Quota is an account's limits; 0 means unlimited.
type Quota struct {
	Bytes    int64
	Messages int64
}

// ParseQuota reads a quota as an administrator types it: a size (see
// ParseSize) and a message count ("" is 0, unlimited).
func ParseQuota(size, messages string) (Quota, error) {
	b, err := ParseSize(size)
	if err != nil {
		return Quota{}, err
	}
	var n int64
	if messages != "" {
		if n, err = strconv.ParseInt(strings.TrimSpace(messages), 10, 64); err != nil || n < 0 {
			return Quota{}, invalid("quota", messages, err, "quota: %q is not a message count", messages)
		}
	}
	return Quota{Bytes: b, Messages: n}, nil
}

// sizeUnits are the multipliers ParseSize knows, by lower-case unit. One
// letter means a power of 1024, as in Dovecot's quota rules, nginx and
// systemd; KiB..TiB say so explicitly (IEC 80000-13); KB..TB are taken at
// their SI word, powers of 1000.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

// ParseSize reads a byte count: plain digits ("10485760"), or a number,
// possibly with a fraction, and a unit, case-insensitive, with or without a
// space between ("500K", "10M", "1.5G", "500MiB", "2 GB"). The result is
// rounded down to whole bytes.
func ParseSize(s string) (int64, error) {
	bad := func() (int64, error) {
		return 0, invalid("quota", s, nil,
			"quota: %q is not a size (bytes, or a number with a unit: 500K, 10M, 1.5G, 2GiB, 100MB)", s)
	}
	t := strings.TrimSpace(s)
	end := 0
	dots := 0
	for end < len(t) && (t[end] >= '0' && t[end] <= '9' || t[end] == '.') {
		if t[end] == '.' {
			dots++
		}
		end++
	}
	num, unit := t[:end], strings.ToLower(strings.TrimSpace(t[end:]))
	mult, ok := sizeUnits[unit]
	if !ok || dots > 1 || strings.Trim(num, ".") == "" {
		return bad()
	}
	// Exact arithmetic: 1.1G must be 1181116006 bytes, not what a float
	// makes of it.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad()
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return bad()
	}
	return n.Int64(), nil
}
