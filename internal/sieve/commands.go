package sieve

// The table of commands and tests: their arguments and the extension
// each needs. RFC 5228 §2.6 (arguments), §3-5 (base commands and tests),
// and each extension's RFC for the rest.

type argType int

const (
	argNone argType = iota
	argString
	argStringList
	argNumber
)

func (t argType) String() string {
	switch t {
	case argString:
		return "string"
	case argStringList:
		return "string list"
	case argNumber:
		return "number"
	}
	return "nothing"
}

type tagSpec struct {
	arg   argType
	ext   string // extension the tag needs, "" for none beyond the command's
	group string // tags of one group exclude each other
}

type cmdSpec struct {
	ext   string // extension needed, "" for the base language
	test  bool
	tags  map[string]tagSpec
	args  []argType // positional arguments
	opt   int       // how many trailing positional arguments may be left out
	tests int       // 0: none; 1: exactly one; -1: a test list (at least one)
	block bool      // needs a block
}

// Tag groups shared by many tests.
var (
	matchTags = map[string]tagSpec{
		"is":       {group: "match"},
		"contains": {group: "match"},
		"matches":  {group: "match"},
		"count":    {arg: argString, ext: "relational", group: "match"},
		"value":    {arg: argString, ext: "relational", group: "match"},
		"regex":    {ext: "regex", group: "match"},
	}
	comparatorTag = map[string]tagSpec{"comparator": {arg: argString, group: "comparator"}}
	addrPartTags  = map[string]tagSpec{
		"all":       {group: "addrpart"},
		"localpart": {group: "addrpart"},
		"domain":    {group: "addrpart"},
		"user":      {ext: "subaddress", group: "addrpart"},
		"detail":    {ext: "subaddress", group: "addrpart"},
	}
	indexTags = map[string]tagSpec{
		"index": {arg: argNumber, ext: "index", group: "index"},
		"last":  {ext: "index", group: "last"},
	}
	zoneTags = map[string]tagSpec{
		"zone":         {arg: argString, group: "zone"},
		"originalzone": {group: "zone"},
	}
)

func tags(sets ...map[string]tagSpec) map[string]tagSpec {
	out := map[string]tagSpec{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

var commands = map[string]*cmdSpec{
	// RFC 5228 §3 control commands.
	"require": {args: []argType{argStringList}},
	"if":      {tests: 1, block: true},
	"elsif":   {tests: 1, block: true},
	"else":    {block: true},
	"stop":    {},
	// RFC 5228 §4 actions.
	"keep":     {tags: map[string]tagSpec{"flags": {arg: argStringList, ext: "imap4flags"}}},
	"discard":  {},
	"redirect": {args: []argType{argString}, tags: map[string]tagSpec{"copy": {ext: "copy"}}},
	"fileinto": {ext: "fileinto", args: []argType{argString}, tags: map[string]tagSpec{
		"copy": {ext: "copy"}, "flags": {arg: argStringList, ext: "imap4flags"}, "create": {ext: "mailbox"}}},
	// RFC 5429.
	"reject":  {ext: "reject", args: []argType{argString}},
	"ereject": {ext: "ereject", args: []argType{argString}},
	// RFC 5232.
	"setflag":    {ext: "imap4flags", args: []argType{argStringList, argStringList}, opt: 1},
	"addflag":    {ext: "imap4flags", args: []argType{argStringList, argStringList}, opt: 1},
	"removeflag": {ext: "imap4flags", args: []argType{argStringList, argStringList}, opt: 1},
	// RFC 5229.
	"set": {ext: "variables", args: []argType{argString, argString}, tags: map[string]tagSpec{
		"lower": {group: "p40"}, "upper": {group: "p40"},
		"lowerfirst": {group: "p30"}, "upperfirst": {group: "p30"},
		"quotewildcard": {group: "p20"}, "quoteregex": {group: "p20", ext: "regex"},
		"length": {group: "p10"},
	}},
	// RFC 5230, RFC 6131.
	"vacation": {ext: "vacation", args: []argType{argString}, tags: map[string]tagSpec{
		"days":      {arg: argNumber, group: "period"},
		"seconds":   {arg: argNumber, group: "period", ext: "vacation-seconds"},
		"subject":   {arg: argString},
		"from":      {arg: argString},
		"addresses": {arg: argStringList},
		"mime":      {},
		"handle":    {arg: argString},
	}},
	// RFC 6609.
	"include": {ext: "include", args: []argType{argString}, tags: map[string]tagSpec{
		"personal": {group: "location"}, "global": {group: "location"},
		"once": {}, "optional": {},
	}},
	"return": {ext: "include"},
	"global": {ext: "include", args: []argType{argStringList}},
	// RFC 5293.
	"addheader": {ext: "editheader", args: []argType{argString, argString},
		tags: map[string]tagSpec{"last": {}}},
	"deleteheader": {ext: "editheader", args: []argType{argString, argStringList}, opt: 1,
		tags: tags(matchTags, comparatorTag, map[string]tagSpec{
			"index": {arg: argNumber, group: "index"}, "last": {group: "last"}})},

	// RFC 5228 §5 tests.
	"address": {test: true, args: []argType{argStringList, argStringList},
		tags: tags(matchTags, comparatorTag, addrPartTags, indexTags)},
	"allof": {test: true, tests: -1},
	"anyof": {test: true, tests: -1},
	"envelope": {test: true, ext: "envelope", args: []argType{argStringList, argStringList},
		tags: tags(matchTags, comparatorTag, addrPartTags)},
	"exists": {test: true, args: []argType{argStringList}},
	"false":  {test: true},
	"header": {test: true, args: []argType{argStringList, argStringList},
		tags: tags(matchTags, comparatorTag, indexTags)},
	"not":  {test: true, tests: 1},
	"size": {test: true, args: []argType{argNumber}, tags: map[string]tagSpec{"over": {group: "size"}, "under": {group: "size"}}},
	"true": {test: true},
	// Extensions' tests.
	"hasflag": {test: true, ext: "imap4flags", args: []argType{argStringList, argStringList}, opt: 1,
		tags: tags(matchTags, comparatorTag)},
	"string": {test: true, ext: "variables", args: []argType{argStringList, argStringList},
		tags: tags(matchTags, comparatorTag)},
	"body": {test: true, ext: "body", args: []argType{argStringList},
		tags: tags(matchTags, comparatorTag, map[string]tagSpec{
			"raw": {group: "transform"}, "content": {arg: argStringList, group: "transform"}, "text": {group: "transform"}})},
	"date": {test: true, ext: "date", args: []argType{argString, argString, argStringList},
		tags: tags(matchTags, comparatorTag, zoneTags, indexTags)},
	"currentdate": {test: true, ext: "date", args: []argType{argString, argStringList},
		tags: tags(matchTags, comparatorTag, map[string]tagSpec{"zone": {arg: argString, group: "zone"}})},
	"mailboxexists": {test: true, ext: "mailbox", args: []argType{argStringList}},
	"duplicate": {test: true, ext: "duplicate", tags: map[string]tagSpec{
		"handle": {arg: argString}, "header": {arg: argString, group: "id"}, "uniqueid": {arg: argString, group: "id"},
		"seconds": {arg: argNumber}, "last": {},
	}},
}

// capabilities are the names "require" accepts, each an extension this
// package implements.
var capabilities = []string{
	"body", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric", "comparator-i;octet",
	"copy", "date", "duplicate", "editheader", "encoded-character", "envelope", "ereject",
	"fileinto", "imap4flags", "include", "index", "mailbox", "regex", "reject", "relational",
	"subaddress", "vacation", "vacation-seconds", "variables",
}
