// node --test internal/webmail/testdata/compose-common.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAddresses, formatAddress, formatAddresses, validEmail, suggest, sieveErrorParts } from "./compose-common-entry.mjs";

test("parseAddresses reads what people type", () => {
  const p = (s) => parseAddresses(s).map(({ name, email, ok }) => [name, email, ok]);
  assert.deepEqual(p(""), []);
  assert.deepEqual(p("a@example.com"), [["", "a@example.com", true]]);
  assert.deepEqual(p(" a@example.com , b@example.org; "), [["", "a@example.com", true], ["", "b@example.org", true]]);
  assert.deepEqual(p("Alice Example <alice@example.org>"), [["Alice Example", "alice@example.org", true]]);
  assert.deepEqual(p('"Doe, John" <john@example.com>, x@y.example'), [["Doe, John", "john@example.com", true], ["", "x@y.example", true]]);
  assert.deepEqual(p('"say \\"hi\\"" <q@example.com>'), [['say "hi"', "q@example.com", true]]);
  assert.deepEqual(p("<bare@example.com>"), [["", "bare@example.com", true]]);
  assert.deepEqual(p("张三 <zhang@example.cn>"), [["张三", "zhang@example.cn", true]]);
  assert.deepEqual(p("demo@localhost"), [["", "demo@localhost", true]]);
  for (const bad of ["not-an-address", "a@b", "a b@example.com", "a@exa mple.com", "Name <>", "a@@example.com", "<a@example.com"]) {
    assert.equal(parseAddresses(bad).every((a) => a.ok), false, bad);
  }
});

test("formatAddress quotes names that need it and reads back", () => {
  const cases = [
    { name: "", email: "a@example.com" },
    { name: "Alice Example", email: "alice@example.org" },
    { name: "Doe, John", email: "john@example.com" },
    { name: 'say "hi"', email: "q@example.com" },
    { name: "a\\b", email: "r@example.com" },
    { name: "张三", email: "zhang@example.cn" },
  ];
  for (const a of cases) {
    const back = parseAddresses(formatAddress(a));
    assert.deepEqual(back.map(({ name, email }) => ({ name, email })), [a], formatAddress(a));
  }
  assert.equal(formatAddress({ name: null, email: "a@example.com" }), "a@example.com");
  assert.equal(formatAddresses(cases.slice(0, 2)), "a@example.com, Alice Example <alice@example.org>");
  assert.equal(formatAddresses(null), "");
});

test("validEmail", () => {
  assert.ok(validEmail("a.b+c@sub.example.com"));
  assert.ok(!validEmail("a@b"));
  assert.ok(!validEmail('a"b@example.com'));
});

test("suggest matches address and name words, keeps order, excludes, limits", () => {
  const list = [
    { name: "Bob Builder", email: "bob@example.test", score: 9 },
    { name: "Carol", email: "carol@example.net", score: 5 },
    { name: "", email: "bobby@x.example", score: 3 },
    { name: "Anna Bobrova", email: "anna@y.example", score: 1 },
  ];
  const emails = (q, ex) => suggest(list, q, ex).map((c) => c.email);
  assert.deepEqual(emails("bob"), ["bob@example.test", "bobby@x.example", "anna@y.example"]);
  assert.deepEqual(emails("BUILD"), ["bob@example.test"]);
  assert.deepEqual(emails("  "), []);
  assert.deepEqual(emails("bob", new Set(["bob@example.test"])), ["bobby@x.example", "anna@y.example"]);
  const many = Array.from({ length: 30 }, (_, i) => ({ name: "", email: `u${i}@example.com`, score: 1 }));
  assert.equal(suggest(many, "u").length, 8);
});

test("sieveErrorParts reads the compiler's line and column", () => {
  assert.deepEqual(sieveErrorParts({ type: "invalidSieve", description: 'line 4, column 1: expected \';\' after "fileinto"' }), { line: 4, column: 1, message: 'expected \';\' after "fileinto"' });
  assert.deepEqual(sieveErrorParts({ type: "invalidSieve", description: "script too large" }), { line: 0, column: 0, message: "script too large" });
  assert.deepEqual(sieveErrorParts({ type: "tooLarge" }), { line: 0, column: 0, message: "tooLarge" });
});
