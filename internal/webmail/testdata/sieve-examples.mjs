// Rules that together use every field, operator, action and combination
// the filter editor offers, plus values that need quoting.
const r = (name, conditions, actions, extra = {}) => ({ name, match: "all", conditions, actions, stop: false, ...extra });
const c = (field, op, value, header) => (header ? { field, header, op, value } : { field, op, value });

export const examples = [
  { name: "empty", rules: [] },
  { name: "move from sender", rules: [r("Lists", [c("from", "contains", "list@example.org")], [{ type: "move", mailbox: "Lists" }], { stop: true })] },
  { name: "every field and operator", rules: [
    r("from is", [c("from", "is", "boss@example.com")], [{ type: "flag" }]),
    r("to contains", [c("to", "contains", "team@")], [{ type: "read" }]),
    r("subject not contains", [c("subject", "notContains", "[spam]")], [{ type: "move", mailbox: "Work/Reports" }]),
    r("header not is", [c("header", "notIs", "bulk", "Precedence")], [{ type: "flag" }, { type: "read" }]),
  ] },
  { name: "any of", rules: [r("Newsletters", [c("from", "contains", "news"), c("subject", "contains", "digest"), c("header", "contains", "list-id", "List-Id")], [{ type: "move", mailbox: "News" }, { type: "read" }], { match: "any", stop: true })] },
  { name: "all of", rules: [r("Invoices", [c("from", "is", "billing@shop.example"), c("subject", "contains", "invoice")], [{ type: "move", mailbox: "Finance/Invoices" }, { type: "flag" }])] },
  { name: "forward keep copy", rules: [r("Copy to phone", [c("subject", "contains", "urgent")], [{ type: "forward", address: "me@phone.example", keepCopy: true }])] },
  { name: "forward no copy", rules: [r("Redirect", [c("to", "is", "old@example.com")], [{ type: "forward", address: "new@example.com", keepCopy: false }], { stop: true })] },
  { name: "discard", rules: [r("Spam", [c("header", "contains", "yes", "X-Spam-Flag")], [{ type: "discard" }], { stop: true })] },
  { name: "stop only", rules: [r("Let through", [c("from", "contains", "@example.com")], [], { stop: true })] },
  { name: "quoting", rules: [r('Quote "test" \\ back', [c("subject", "contains", 'say "hi" \\o/ ${var} 中文'), c("header", "is", "a;b{c}", "X-Odd_Name")], [{ type: "move", mailbox: 'Odd "box" \\ 收件' }], { match: "any" })] },
  { name: "many rules", rules: [
    r("", [c("from", "contains", "a@example.com")], [{ type: "move", mailbox: "A" }], { stop: true }),
    r("second", [c("from", "contains", "b@example.com")], [{ type: "read" }, { type: "flag" }, { type: "move", mailbox: "B" }, { type: "forward", address: "c@example.com", keepCopy: true }]),
    r("third", [c("subject", "is", "x")], [{ type: "discard" }]),
  ] },
];
