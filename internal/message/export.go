package message

// What JMAP's header forms (RFC 8621 §4.1.2) need of the parser's lenient
// readers, exported for internal/jmapmail.

// ParseAddressList parses an address-list field value (RFC 5322 §3.4)
// leniently, with groups as GroupStart/GroupEnd markers, at most 1000
// addresses; names keep their encoded-words (Address.DisplayName decodes).
func ParseAddressList(value string) []Address { return parseAddressList(value) }

// DecodeHeader decodes the RFC 2047 encoded-words of an unfolded header
// value to UTF-8; malformed ones stay as they are, and 8-bit text that is
// not UTF-8 is read as Latin-1.
func DecodeHeader(value string) string { return decodeHeader(value) }
