#!/usr/bin/env python3
"""CATENATE, URLAUTH, URLAUTH=BINARY and CONTEXT=SORT through Python's
imaplib, an independent IMAP client, as two users.

Reads {"host", "port", "user", "pass", "user2", "pass2", "message"} on
stdin. The first user appends the message, builds a second one with APPEND
CATENATE from URLs to its header and first part, authorises a URL to the
message for the second user (GENURLAUTH), who fetches it (URLFETCH, also
BINARY of part 2); the owner's own URLFETCH of it, and the second user's
after RESETKEY, get NIL. A SORT RETURN (UPDATE) sees a message appended by
another session. Prints every answer as text:
{"capabilities", "catenate", "catenated", "genurlauth", "fetch_user2",
 "fetch_owner", "fetch_binary", "after_reset", "sort", "sort_update", "error"}.
"""
import imaplib
import json
import sys

for name in ("GENURLAUTH", "URLFETCH", "RESETKEY"):
    imaplib.Commands[name] = ("AUTH", "SELECTED")


def text(data):
    out = []
    for d in data or []:
        if isinstance(d, tuple):
            d = b"".join(x for x in d if isinstance(x, bytes))
        if isinstance(d, bytes):
            d = d.decode("utf-8", "surrogateescape")
        out.append(str(d))
    return out


def command(m, name, *args):
    typ, data = m._simple_command(name, *args)
    typ, data = m._untagged_response(typ, data, name)
    return [typ, text(data)]


def main():
    req = json.load(sys.stdin)
    res = {"error": None}
    try:
        a = imaplib.IMAP4(req["host"], req["port"])
        a.login(req["user"], req["pass"])
        res["capabilities"] = text(a.capability()[1])[0].split()
        a.append("INBOX", None, None, req["message"].encode())
        a.create("Work")
        res["catenate"] = command(a, "APPEND", "Work", "CATENATE",
                                  '(URL "/INBOX/;UID=1/;SECTION=HEADER" URL "/INBOX/;UID=1/;SECTION=1")')
        a.select("Work")
        typ, data = a.fetch("1", "(BODY.PEEK[])")
        res["catenated"] = text(data)

        host = req["user"].split("@")[1]
        rump = 'imap://%s@%s/INBOX/;UID=1;URLAUTH=user+%s' % (req["user"], host, req["user2"])
        res["genurlauth"] = command(a, "GENURLAUTH", '"%s"' % rump, "INTERNAL")
        url = res["genurlauth"][1][0].strip('"')
        part = command(a, "GENURLAUTH", '"%s/;SECTION=2;URLAUTH=authuser"' % rump.split(";URLAUTH=")[0], "INTERNAL")
        part_url = part[1][0].strip('"')

        b = imaplib.IMAP4(req["host"], req["port"])
        b.login(req["user2"], req["pass2"])
        res["fetch_user2"] = command(b, "URLFETCH", '"%s"' % url)
        res["fetch_owner"] = command(a, "URLFETCH", '"%s"' % url)
        res["fetch_binary"] = command(b, "URLFETCH", '("%s" BINARY)' % part_url)
        command(a, "RESETKEY")
        res["after_reset"] = command(b, "URLFETCH", '"%s"' % url)

        a.select("INBOX")
        a.untagged_responses.pop("ESEARCH", None)
        typ, _ = a._simple_command("UID", "SORT", "RETURN", "(ALL UPDATE)", "(SUBJECT)", "UTF-8", "ALL")
        res["sort"] = [typ, text(a.untagged_responses.pop("ESEARCH", []))]
        other = imaplib.IMAP4(req["host"], req["port"])
        other.login(req["user"], req["pass"])
        other.append("INBOX", None, None, b"From: x@example.test\r\nSubject: 0 first\r\n\r\nnew\r\n")
        other.logout()
        a.noop()
        res["sort_update"] = text(a.untagged_responses.get("ESEARCH", []))
        b.logout()
        a.logout()
    except Exception as e:  # reported to the Go test
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(res))


main()
