package authcheck

import "context"

type arcResult struct {
	result string // none, pass, fail (RFC 8617 §4.4)
	reason string
}

// checkARC validates the message's ARC chain (RFC 8617 §5.2).
func (c *Checker) checkARC(ctx context.Context, in Input, fields []field) arcResult {
	if len(fieldsNamed(fields, "ARC-Seal")) == 0 && len(fieldsNamed(fields, "ARC-Message-Signature")) == 0 {
		return arcResult{result: "none"}
	}
	return verifyARC(ctx, c, in, fields)
}

func verifyARC(ctx context.Context, c *Checker, in Input, fields []field) arcResult {
	return arcResult{result: "fail", reason: "TODO"}
}
