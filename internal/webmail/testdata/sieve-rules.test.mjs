// node --test internal/webmail/testdata/sieve-rules.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeScript, readScript, validateRules, newRule, MARKER, FIELDS, OPS } from "../assets/sieve-rules.js";
import { examples } from "./sieve-examples.mjs";

const ORDER = ["read", "flag", "move", "forward", "discard"];
const normal = (rules) =>
  rules.map((r) => ({
    ...r,
    name: r.name.trim(),
    match: r.conditions.length > 1 ? r.match : "all",
    actions: [...r.actions].sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type)),
  }));

test("examples are valid and read back as written", () => {
  for (const e of examples) {
    assert.deepEqual(validateRules(e.rules), [], e.name);
    const script = writeScript(e.rules);
    assert.ok(script.startsWith(MARKER + "\n"), e.name);
    assert.deepEqual(readScript(script), normal(e.rules), e.name);
    assert.deepEqual(readScript(script.replace(/\n/g, "\r\n")), normal(e.rules), e.name + " (CRLF)");
  }
});

test("the Go test's copy of the examples is up to date", () => {
  const file = JSON.parse(readFileSync(new URL("../../sieve/testdata/webmail-rules.json", import.meta.url), "utf8"));
  assert.deepEqual(
    file,
    examples.map((e) => ({ name: e.name, rules: e.rules, script: writeScript(e.rules) })),
    "run node internal/webmail/testdata/make-examples.mjs",
  );
});

test("scripts it did not write are not read", () => {
  const mine = writeScript(examples[1].rules);
  const foreign = [
    "",
    'require "fileinto";\nif header :contains "subject" "x" { fileinto "A"; }\n',
    mine.replace(MARKER, "# my own filters"),
    mine.replace("stop;", "keep;"),
    mine.replace('"Lists";', '"Lists"; # hand note'),
    mine.replace('require ["fileinto"];\n', ""), // parses, but is not what the editor writes
    mine.replace("    fileinto", "  fileinto"),
    mine + "\nkeep;\n",
    mine.replace(":contains", ":matches"),
    mine.replace(":contains", ":regex"),
    mine.slice(0, -3),
    mine.replace('"list@example.org"', '"list@example.org'),
    mine.replace('"list@example.org"', '""'), // an empty value is not a rule the editor makes
  ];
  for (const s of foreign) assert.equal(readScript(s), null, JSON.stringify(s));
  assert.equal(readScript(null), null);
});

test("validateRules names each problem", () => {
  const keys = (rule) => validateRules([rule]).map((e) => e.key);
  const base = newRule();
  assert.deepEqual(keys(base), ["emptyValue", "noMailbox"]);
  const ok = { ...base, conditions: [{ field: "from", op: "contains", value: "x" }], actions: [{ type: "move", mailbox: "A" }] };
  assert.deepEqual(keys(ok), []);
  assert.deepEqual(keys({ ...ok, conditions: [{ field: "header", header: "Bad Name:", op: "is", value: "x" }] }), ["headerName"]);
  assert.deepEqual(keys({ ...ok, conditions: [{ field: "body", op: "is", value: "x" }] }), ["condition"]);
  assert.deepEqual(keys({ ...ok, conditions: [{ field: "from", op: "matches", value: "x" }] }), ["condition"]);
  assert.deepEqual(keys({ ...ok, conditions: [{ field: "from", op: "is", value: "x".repeat(501) }] }), ["valueTooLong"]);
  assert.deepEqual(keys({ ...ok, actions: [], stop: false }), ["noAction"]);
  assert.deepEqual(keys({ ...ok, actions: [{ type: "forward", address: "not an address" }] }), ["address"]);
  assert.deepEqual(keys({ ...ok, actions: [{ type: "discard" }, { type: "move", mailbox: "A" }] }), ["discardAndMore"]);
  assert.deepEqual(keys({ ...ok, actions: [{ type: "read" }, { type: "read" }] }), ["action"]);
  assert.deepEqual(keys({ ...ok, conditions: Array(21).fill(ok.conditions[0]) }), ["tooManyConditions"]);
});

test("random rules round-trip", () => {
  let seed = 7;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const alphabet = ['a', 'Z', ' ', '"', "\\", "{", "}", ";", ",", "(", ")", "[", "]", "#", "中", "é", "$", ":", "*", "?"];
  const str = () => Array.from({ length: 1 + rnd(12) }, () => alphabet[rnd(alphabet.length)]).join("").trim() || "v";
  for (let n = 0; n < 300; n++) {
    const rules = Array.from({ length: rnd(4) }, () => {
      const conditions = Array.from({ length: rnd(4) }, () => {
        const field = FIELDS[rnd(FIELDS.length)];
        const c = { field, op: OPS[rnd(OPS.length)], value: str() };
        return field === "header" ? { field, header: "X-" + rnd(99), op: c.op, value: c.value } : c;
      });
      const types = ["read", "flag", "move", "forward", "discard"].filter(() => rnd(3) === 0);
      const actions = types.includes("discard")
        ? [{ type: "discard" }]
        : types.map((type) =>
            type === "move" ? { type, mailbox: str() } : type === "forward" ? { type, address: `u${rnd(9)}@x.example`, keepCopy: rnd(2) === 1 } : { type },
          );
      return { name: str(), match: rnd(2) ? "any" : "all", conditions, actions, stop: actions.length === 0 || rnd(2) === 1 };
    });
    assert.deepEqual(validateRules(rules), []);
    assert.deepEqual(readScript(writeScript(rules)), normal(rules));
  }
});
