#!/usr/bin/env python3
"""Change a mailbox with Python's imaplib, an independent IMAP client.

Reads a JSON request on stdin:
  {"host", "port", "user", "pass", "mailbox",
   "steps": [["uid_store", uids, item, flags], ["uid_expunge", uids],
             ["expunge"], ["append", flags, message], ["noop"]]}
Logs in over plaintext (loopback), selects the mailbox, runs the steps and
logs out. Prints {"results": [[status, [response lines]], ...], "error"}:
the first step that does not answer OK ends the session.
"""
import imaplib
import json
import sys


def text(data):
    out = []
    for d in data:
        if isinstance(d, tuple):
            d = d[0]
        if isinstance(d, bytes):
            d = d.decode("utf-8", "surrogateescape")
        out.append(str(d))
    return out


def run_step(m, step):
    op = step[0]
    if op == "uid_store":
        return m.uid("STORE", step[1], step[2], step[3])
    if op == "uid_expunge":
        return m.uid("EXPUNGE", step[1])
    if op == "expunge":
        return m.expunge()
    if op == "append":
        return m.append(req["mailbox"], step[1], None, step[2].encode())
    if op == "noop":
        return m.noop()
    raise ValueError("unknown step %r" % op)


req = json.load(sys.stdin)
res = {"results": [], "error": None}
m = imaplib.IMAP4(req["host"], req["port"])
try:
    m.login(req["user"], req["pass"])
    typ, _ = m.select(req["mailbox"])
    if typ != "OK":
        raise RuntimeError("SELECT: " + typ)
    for step in req["steps"]:
        typ, data = run_step(m, step)
        res["results"].append([typ, text(data)])
        if typ != "OK":
            res["error"] = "%s: %s" % (step[0], typ)
            break
    m.logout()
except Exception as e:  # report, don't trace: the Go test prints it
    res["error"] = "%s: %s" % (type(e).__name__, e)
json.dump(res, sys.stdout)
