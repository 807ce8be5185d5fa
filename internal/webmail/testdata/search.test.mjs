// Node tests of the search box's query language (assets/search.js), run by
// TestCoreJavaScript.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSearch, tokenize } from "../assets/search.js";

const boxes = { inbox: "m1", projects: "m9", "lists/go": "m12" };
const find = (name) => boxes[name.toLowerCase()] || null;

test("free text is one text condition", () => {
  assert.deepEqual(parseSearch("quarterly report", find), { filter: { text: "quarterly report" }, mailboxId: null, errors: [] });
});

test("an empty query has no filter", () => {
  assert.deepEqual(parseSearch("   ", find).filter, null);
});

test("fields, attachment, dates and folder combine with AND", () => {
  const r = parseSearch('from:alice to:bob subject:"project plan" has:attachment after:2026-01-02 before:2026/02/01 in:Projects budget', find);
  assert.deepEqual(r.errors, []);
  assert.equal(r.mailboxId, "m9");
  assert.equal(r.filter.operator, "AND");
  const c = r.filter.conditions;
  assert.deepEqual(c[0], { from: "alice" });
  assert.deepEqual(c[1], { to: "bob" });
  assert.deepEqual(c[2], { subject: "project plan" });
  assert.deepEqual(c[3], { hasAttachment: true });
  assert.match(c[4].after, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(new Date(c[4].after).getTime(), new Date(2026, 0, 2).getTime());
  assert.equal(new Date(c[5].before).getTime(), new Date(2026, 1, 1).getTime());
  assert.deepEqual(c[6], { text: "budget" });
  assert.deepEqual(c[7], { inMailbox: "m9" });
});

test("a quoted phrase stays whole, also when it looks like a field", () => {
  assert.deepEqual(tokenize('"from:x y" z'), ["\u0000from:x y", "z"]);
  assert.deepEqual(parseSearch('"from:x y"', find).filter, { text: "from:x y" });
});

test("bad values are reported, not searched for", () => {
  const r = parseSearch("before:yesterday in:nowhere has:pictures", find);
  assert.deepEqual(r.errors, ["before:yesterday", "in:nowhere", "has:pictures"]);
  assert.equal(r.filter, null);
});

test("is: keywords and unknown keys", () => {
  assert.deepEqual(parseSearch("is:unread", find).filter, { notKeyword: "$seen" });
  assert.deepEqual(parseSearch("is:flagged", find).filter, { hasKeyword: "$flagged" });
  assert.deepEqual(parseSearch("http://x.test", find).filter, { text: "http://x.test" });
});

test("upper-case keys and folder names with a slash", () => {
  assert.deepEqual(parseSearch("FROM:Ann in:Lists/Go", find).filter, { operator: "AND", conditions: [{ from: "Ann" }, { inMailbox: "m12" }] });
});
