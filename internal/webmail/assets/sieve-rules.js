// The filter rules of the settings page, and the Sieve script they are
// stored as. writeScript turns rules into Sieve (RFC 5228 with fileinto,
// imap4flags, copy); readScript turns a script back into rules, but only
// a script this module wrote: it must start with MARKER and come out of
// writeScript again byte for byte, so a script edited by hand (or by
// another client) is never half-understood and silently rewritten.
//
// A rule: {name, match: "all"|"any", conditions: [{field, header?, op,
// value}], actions: [{type, ...}], stop}. field: "from", "to" (To or Cc),
// "subject", "header" (with header = the field name). op: "contains",
// "is", "notContains", "notIs". Actions, written in this order: "read",
// "flag", "move" {mailbox}, "forward" {address, keepCopy}, "discard".

export const MARKER = "# Postern webmail filters v1";
const NOTE = "# Written by the webmail filter editor; a script changed by hand is shown there as raw text.";

export const FIELDS = ["from", "to", "subject", "header"];
export const OPS = ["contains", "is", "notContains", "notIs"];
export const ACTIONS = ["move", "read", "flag", "forward", "discard"];
const ACTION_ORDER = ["read", "flag", "move", "forward", "discard"];

// Limits that keep a script well inside the server's (admin.MaxSieveScriptSize).
export const MAX_RULES = 200;
export const MAX_CONDITIONS = 20;
export const MAX_VALUE = 500;

const HEADER_NAME = /^[!-9;-~]{1,76}$/; // RFC 5322 field name: printable, no colon

export function newRule() {
  return {
    name: "",
    match: "all",
    conditions: [{ field: "from", op: "contains", value: "" }],
    actions: [{ type: "move", mailbox: "" }],
    stop: true,
  };
}

function quote(s) {
  return '"' + String(s).replace(/[\r\n]+/g, " ").replace(/[\\"]/g, (c) => "\\" + c) + '"';
}

function oneLine(s) {
  return String(s).replace(/[\r\n\t]+/g, " ").trim();
}

// validateRules lists what keeps rules from being written: [{rule, key}],
// key a settings.filters.error.* i18n key suffix.
export function validateRules(rules) {
  const errs = [];
  if (rules.length > MAX_RULES) errs.push({ rule: MAX_RULES, key: "tooMany" });
  rules.forEach((r, i) => {
    const bad = (key) => errs.push({ rule: i, key });
    if (r.conditions.length > MAX_CONDITIONS) bad("tooManyConditions");
    for (const c of r.conditions) {
      if (!FIELDS.includes(c.field) || !OPS.includes(c.op)) bad("condition");
      if (c.field === "header" && !HEADER_NAME.test(c.header || "")) bad("headerName");
      if (oneLine(c.value) === "") bad("emptyValue");
      if (String(c.value).length > MAX_VALUE) bad("valueTooLong");
    }
    if (r.actions.length === 0 && !r.stop) bad("noAction");
    const seen = new Set();
    for (const a of r.actions) {
      if (!ACTIONS.includes(a.type) || seen.has(a.type)) bad("action");
      seen.add(a.type);
      if (a.type === "move" && oneLine(a.mailbox || "") === "") bad("noMailbox");
      if (a.type === "forward" && !/^[^\s@"\\]+@[^\s@"\\]+$/.test(a.address || "")) bad("address");
    }
    if (seen.has("discard") && (seen.has("move") || seen.has("forward"))) bad("discardAndMore");
  });
  return errs;
}

function writeTest(c) {
  const match = c.op === "is" || c.op === "notIs" ? ":is" : ":contains";
  const not = c.op === "notContains" || c.op === "notIs" ? "not " : "";
  const value = quote(oneLine(c.value));
  switch (c.field) {
    case "from":
      return `${not}address ${match} "from" ${value}`;
    case "to":
      return `${not}address ${match} ["to", "cc"] ${value}`;
    case "subject":
      return `${not}header ${match} "subject" ${value}`;
    default:
      return `${not}header ${match} ${quote(c.header)} ${value}`;
  }
}

function writeCondition(r) {
  if (r.conditions.length === 0) return "true";
  if (r.conditions.length === 1) return writeTest(r.conditions[0]);
  const of = r.match === "any" ? "anyof" : "allof";
  return `${of} (${r.conditions.map(writeTest).join(", ")})`;
}

function writeAction(a) {
  switch (a.type) {
    case "read":
      return 'addflag "\\\\Seen";';
    case "flag":
      return 'addflag "\\\\Flagged";';
    case "move":
      return `fileinto ${quote(oneLine(a.mailbox))};`;
    case "forward":
      return a.keepCopy ? `redirect :copy ${quote(a.address)};` : `redirect ${quote(a.address)};`;
    case "discard":
      return "discard;";
  }
  throw new Error("unknown action " + a.type);
}

function sortedActions(r) {
  return [...r.actions].sort((a, b) => ACTION_ORDER.indexOf(a.type) - ACTION_ORDER.indexOf(b.type));
}

// writeScript returns the Sieve script of rules (which validateRules
// accepts).
export function writeScript(rules) {
  const need = new Set();
  for (const r of rules) {
    for (const a of r.actions) {
      if (a.type === "move") need.add("fileinto");
      if (a.type === "read" || a.type === "flag") need.add("imap4flags");
      if (a.type === "forward" && a.keepCopy) need.add("copy");
    }
  }
  const out = [MARKER, NOTE];
  const req = ["fileinto", "imap4flags", "copy"].filter((e) => need.has(e));
  if (req.length) out.push(`require [${req.map(quote).join(", ")}];`);
  for (const r of rules) {
    out.push("");
    out.push(`# rule: ${oneLine(r.name)}`.trimEnd());
    out.push(`if ${writeCondition(r)} {`);
    for (const a of sortedActions(r)) out.push("    " + writeAction(a));
    if (r.stop) out.push("    stop;");
    out.push("}");
  }
  return out.join("\n") + "\n";
}

// tokens splits one line of a script this module wrote. It returns null
// on anything it does not know.
function tokens(line) {
  const out = [];
  let i = 0;
  while (i < line.length) {
    const ch = line[i];
    if (ch === " ") {
      i++;
    } else if ("(),{};[]".includes(ch)) {
      out.push({ p: ch });
      i++;
    } else if (ch === '"') {
      let s = "";
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === "\\") {
          s += line[i + 1] ?? "";
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else {
          s += line[i++];
        }
      }
      out.push({ s });
    } else {
      const m = /^:?[a-z0-9_]+/.exec(line.slice(i));
      if (!m) return null;
      out.push({ w: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

function parseTest(t) {
  let i = 0;
  const next = () => t[i++];
  let not = false;
  let kw = next();
  if (kw?.w === "not") {
    not = true;
    kw = next();
  }
  const match = next()?.w;
  if (match !== ":contains" && match !== ":is") return null;
  const op = (not ? "not" : "") + (match === ":is" ? (not ? "Is" : "is") : not ? "Contains" : "contains");
  let cond;
  if (kw?.w === "address") {
    const f = next();
    if (f?.s === "from") cond = { field: "from" };
    else if (f?.p === "[" && next()?.s === "to" && next()?.p === "," && next()?.s === "cc" && next()?.p === "]") cond = { field: "to" };
    else return null;
  } else if (kw?.w === "header") {
    const h = next();
    if (h?.s === undefined) return null;
    cond = h.s === "subject" ? { field: "subject" } : { field: "header", header: h.s };
  } else {
    return null;
  }
  const v = next();
  if (v?.s === undefined) return null;
  return { rest: t.slice(i), cond: { ...cond, op, value: v.s } };
}

// parseIf reads the tokens of "if <condition> {".
function parseIf(t) {
  if (t[0]?.w !== "if" || t[t.length - 1]?.p !== "{") return null;
  t = t.slice(1, -1);
  if (t.length === 1 && t[0].w === "true") return { match: "all", conditions: [] };
  if (t[0]?.w === "allof" || t[0]?.w === "anyof") {
    const match = t[0].w === "anyof" ? "any" : "all";
    if (t[1]?.p !== "(" || t[t.length - 1]?.p !== ")") return null;
    let rest = t.slice(2, -1);
    const conditions = [];
    for (;;) {
      const r = parseTest(rest);
      if (!r) return null;
      conditions.push(r.cond);
      if (r.rest.length === 0) break;
      if (r.rest[0].p !== ",") return null;
      rest = r.rest.slice(1);
    }
    return { match, conditions };
  }
  const r = parseTest(t);
  if (!r || r.rest.length) return null;
  return { match: "all", conditions: [r.cond] };
}

function parseAction(t) {
  const semi = t[t.length - 1]?.p === ";";
  if (!semi) return null;
  t = t.slice(0, -1);
  const [a, b, c] = t;
  if (a?.w === "addflag" && t.length === 2 && b.s === "\\Seen") return { type: "read" };
  if (a?.w === "addflag" && t.length === 2 && b.s === "\\Flagged") return { type: "flag" };
  if (a?.w === "fileinto" && t.length === 2 && b.s !== undefined) return { type: "move", mailbox: b.s };
  if (a?.w === "redirect" && t.length === 2 && b.s !== undefined) return { type: "forward", address: b.s, keepCopy: false };
  if (a?.w === "redirect" && t.length === 3 && b.w === ":copy" && c.s !== undefined) return { type: "forward", address: c.s, keepCopy: true };
  if (a?.w === "discard" && t.length === 1) return { type: "discard" };
  if (a?.w === "stop" && t.length === 1) return { type: "stop" };
  return null;
}

// readScript returns the rules of a script writeScript wrote, or null.
export function readScript(text) {
  if (typeof text !== "string") return null;
  text = text.replace(/\r\n/g, "\n");
  const lines = text.split("\n");
  if (lines[0] !== MARKER) return null;
  const rules = [];
  let rule = null;
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    if (line === "" || line === NOTE || line.startsWith("require ")) continue;
    if (line.startsWith("# rule:") && !rule) {
      rule = { name: line.slice("# rule:".length).trim(), match: "all", conditions: [], actions: [], stop: false, open: false };
      continue;
    }
    if (!rule) return null;
    const t = tokens(line);
    if (!t) return null;
    if (!rule.open) {
      const c = parseIf(t);
      if (!c) return null;
      Object.assign(rule, c, { open: true });
    } else if (t.length === 1 && t[0].p === "}") {
      delete rule.open;
      rules.push(rule);
      rule = null;
    } else {
      const a = parseAction(t);
      if (!a) return null;
      if (a.type === "stop") rule.stop = true;
      else rule.actions.push(a);
    }
  }
  if (rule) return null;
  // Only what writes back the same is ours: a hand edit that still parses
  // (a reordered action, a changed require) is shown raw.
  if (validateRules(rules).length || writeScript(rules) !== text) return null;
  return rules;
}
