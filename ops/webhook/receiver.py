#!/usr/bin/env python3
"""A small webhook receiver for govstream's alerts (tests, compose, demos).

Accepts POSTs of Alertmanager v4 payloads, checks the X-Govstream-Signature
HMAC-SHA256 when a secret is given (401 when it does not verify) and appends
one JSON line per request to --out:
  {"n": 1, "status": 200, "verified": true, "payload": {...}}
--fail-first N answers the first N requests with --status (default 500), to
exercise the sender's retries. Standard library only.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9099, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("--secret-file")
    ap.add_argument("--secret-env")
    ap.add_argument("--out", required=True, help="JSON lines, one per request")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int, default=500)
    args = ap.parse_args()

    secret = None
    if args.secret_file:
        with open(args.secret_file, "rb") as f:
            secret = f.read().rstrip(b"\r\n")
    elif args.secret_env:
        secret = os.environ[args.secret_env].encode()

    lock = threading.Lock()
    state = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            verified = None
            if secret is not None:
                want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                verified = hmac.compare_digest(want, self.headers.get("X-Govstream-Signature", ""))
            with lock:
                state["n"] += 1
                n = state["n"]
                if n <= args.fail_first:
                    status = args.status
                elif verified is False:
                    status = 401
                else:
                    status = 200
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                with open(args.out, "a") as f:
                    f.write(json.dumps({"n": n, "status": status, "verified": verified,
                                        "payload": payload}) + "\n")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt, *a):  # quiet: the out file is the record
            pass

    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
