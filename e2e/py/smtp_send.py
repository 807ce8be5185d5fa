#!/usr/bin/env python3
"""Send one message with Python's smtplib, an independent SMTP client.

Reads a JSON request on stdin:
  {"host", "port", "from", "to": [...], "msg": str,
   "starttls": bool, "ssl": bool, "login": [user, pass] (optional),
   "source": local address to connect from (optional)}
Prints one JSON object: {"ok", "features", "refused", "error"}.
"""
import json
import smtplib
import ssl
import sys


def main():
    req = json.load(sys.stdin)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = {"ok": False, "features": {}, "refused": {}, "error": None}
    source = (req["source"], 0) if req.get("source") else None
    try:
        if req.get("ssl"):
            s = smtplib.SMTP_SSL(req["host"], req["port"], timeout=30, context=ctx, source_address=source)
        else:
            s = smtplib.SMTP(req["host"], req["port"], timeout=30, source_address=source)
        with s:
            s.ehlo("py.example.net")
            if req.get("starttls"):
                s.starttls(context=ctx)
                s.ehlo("py.example.net")
            out["features"] = {k: v for k, v in s.esmtp_features.items()}
            if req.get("login"):
                s.login(*req["login"])
            refused = s.sendmail(req["from"], req["to"], req["msg"].encode("utf-8"))
            out["refused"] = {k: [v[0], v[1].decode("utf-8", "replace")] for k, v in refused.items()}
            out["ok"] = True
    except smtplib.SMTPRecipientsRefused as e:
        out["refused"] = {k: [v[0], v[1].decode("utf-8", "replace")] for k, v in e.recipients.items()}
        out["error"] = {"type": "recipients", "code": 0, "msg": str(e)}
    except smtplib.SMTPResponseException as e:
        msg = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        out["error"] = {"type": type(e).__name__, "code": e.smtp_code, "msg": msg}
    except (smtplib.SMTPException, OSError) as e:
        out["error"] = {"type": type(e).__name__, "code": 0, "msg": str(e)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
