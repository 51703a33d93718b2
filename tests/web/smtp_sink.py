#!/usr/bin/env python3
"""smtp_sink - a loopback SMTP server for test_web_mail.sh: stores every
message it accepts as DIR/NNN.eml and writes its port to PORTFILE.
usage: smtp_sink.py DIR PORTFILE [PORT]  (PORT 0 or absent: a free one)
Python 3.11's smtpd module (deprecated, still shipped in Debian 12)."""
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402
import smtpd  # noqa: E402


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        out = sys.argv[1]
        n = len([f for f in os.listdir(out) if f.endswith(".eml")])
        tmp = os.path.join(out, "%03d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: " + mailfrom.encode() + b"\n")
            f.write(b"X-Envelope-To: " + ",".join(rcpttos).encode() + b"\n")
            f.write(data if isinstance(data, bytes) else data.encode())
        os.rename(tmp, os.path.join(out, "%03d.eml" % n))
        return None


port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
s = Sink(("127.0.0.1", port), None, decode_data=False)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.socket.getsockname()[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
asyncore.loop(timeout=0.2)
