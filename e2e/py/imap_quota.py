#!/usr/bin/env python3
"""QUOTA (RFC 9208) through Python's imaplib, an independent IMAP client.

Reads {"host", "port", "user", "pass", "appends": n} on stdin; logs in over
plaintext (loopback), asks GETQUOTAROOT INBOX and GETQUOTA "", then appends
n small messages to INBOX and reports each answer. Prints
{"capabilities", "quotaroot": [typ, lines], "quota": [typ, lines],
 "appends": [[typ, lines]], "error"}.
"""
import imaplib
import json
import sys


def text(data):
    out = []
    for d in data or []:
        if isinstance(d, tuple):
            d = d[0]
        if isinstance(d, bytes):
            d = d.decode("utf-8", "surrogateescape")
        out.append(str(d))
    return out


def main():
    req = json.load(sys.stdin)
    res = {"error": None}
    try:
        m = imaplib.IMAP4(req["host"], req["port"])
        m.login(req["user"], req["pass"])
        # The extensions are announced once logged in (RFC 9051 §7.2.2).
        typ, data = m.capability()
        res["capabilities"] = text(data)[0].split()
        typ, data = m.getquotaroot("INBOX")
        res["quotaroot"] = [typ, [text(d) for d in data]]
        typ, data = m.getquota('""')
        res["quota"] = [typ, text(data)]
        res["appends"] = []
        for i in range(req["appends"]):
            msg = ("From: a@example.test\r\nSubject: quota %d\r\n\r\nbody %d\r\n" % (i, i)).encode()
            try:
                typ, data = m.append("INBOX", None, None, msg)
            except m.error as e:
                typ, data = "NO", [str(e)]
            res["appends"].append([typ, text(data)])
        m.logout()
    except Exception as e:  # reported to the Go test
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(res))


main()
