// Writes ../../../sieve/testdata/webmail-rules.json: every kind of rule the
// filter editor can write, with the script writeScript makes of it. The
// Go test internal/sieve TestWebmailRulesCompile compiles each script;
// sieve-rules.test.mjs checks the file is up to date.
// Run: node internal/webmail/testdata/make-examples.mjs
import { writeFileSync } from "node:fs";
import { examples } from "./sieve-examples.mjs";
import { writeScript } from "../assets/sieve-rules.js";

const out = examples.map((e) => ({ name: e.name, rules: e.rules, script: writeScript(e.rules) }));
writeFileSync(new URL("../../sieve/testdata/webmail-rules.json", import.meta.url), JSON.stringify(out, null, 1) + "\n");
