// node --test internal/webmail/testdata/admin.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { quotaText } from "../assets/admin-accounts.js";
import { guessKind } from "../assets/admin-queue.js";
import { niceMax } from "../assets/admin-dashboard.js";

test("quotaText writes what admin.ParseQuota reads back", () => {
  assert.equal(quotaText(0), "");
  assert.equal(quotaText(10 * 2 ** 20), "10M");
  assert.equal(quotaText(2 ** 30), "1G");
  assert.equal(quotaText(3 * 2 ** 40), "3T");
  assert.equal(quotaText(1536), "1536"); // not a whole KiB: bytes
  assert.equal(quotaText(1000000), "1000000");
});

test("guessKind tells an address, a Message-ID and a queue id apart", () => {
  assert.equal(guessKind("42"), "queue_id");
  assert.equal(guessKind("ann@example.org"), "address");
  assert.equal(guessKind("<abc.123@mail.example.org>"), "message_id");
  assert.equal(guessKind("CAF=3x$y@mail.gmail.com"), "message_id");
  assert.equal(guessKind("no at sign here"), "message_id");
});

test("niceMax rounds the chart's top up to a readable number", () => {
  assert.equal(niceMax(1), 4);
  assert.equal(niceMax(3), 4);
  assert.equal(niceMax(7), 10);
  assert.equal(niceMax(12), 20);
  assert.equal(niceMax(45), 50);
  assert.equal(niceMax(380), 400);
});
