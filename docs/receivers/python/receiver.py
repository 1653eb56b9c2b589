"""A webhook receiver that verifies Hookplane's signature, with the standard library only.

Run it with the trigger's signing secret (``hookplane triggers get ENV NAME --show-secret``):

    HOOKPLANE_SIGNING_SECRET=whsec_... python receiver.py 9000

Every delivery is checked before anything else happens: a valid one answers 204 and prints
one line, anything else answers 401 and is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify(body: bytes, signature_header: str | None, secret: str) -> bool:
    """True when ``X-Hookplane-Signature`` carries a valid HMAC-SHA256 of ``body``.

    The key is the secret's text exactly as shown, ``whsec_`` prefix included. During a
    secret rotation the header holds two signatures separated by a space; either one is
    enough. Compare over the raw body bytes, before any JSON parsing, in constant time.
    """
    if not signature_header:
        return False
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate)
               for candidate in signature_header.split(" "))


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("HOOKPLANE_SIGNING_SECRET", "")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not verify(body, self.headers.get("X-Hookplane-Signature"), self.secret):
            self.send_response(401)
            self.end_headers()
            return
        delivery = json.loads(body)  # only now: the body is Hookplane's
        record = delivery.get("record") or {}
        print("verified", self.headers.get("X-Hookplane-Event"), record.get("id"),
              json.dumps(record.get("data"), sort_keys=True), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet access log
        pass


if __name__ == "__main__":
    if not Receiver.secret:
        sys.exit("set HOOKPLANE_SIGNING_SECRET to the trigger's signing secret")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
