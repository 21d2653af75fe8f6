"""The token issuer of tests/incidents.rs: PyJWT behind the standard library's HTTP server.

POST /login answers {"access_token": ..., "exp": ...}: HS256 with the secret in SECRET_FILE,
`iss` ISS, `aud` AUD, `iat` = `nbf` = this process's clock in whole seconds (as most issuers
write them), `exp` = `iat` + LIFETIME seconds. It binds 127.0.0.1:0 itself and prints the port
on the first line of stdout. Run it under libfaketime (FAKETIME="+3") to make the issuer's clock
run fast. No time.sleep here: under libfaketime's preload it can fail with EINVAL.
"""
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

SECRET = open(os.environ["SECRET_FILE"], "rb").read().strip()
ISS = os.environ["ISS"]
AUD = os.environ["AUD"]
LIFETIME = int(os.environ.get("LIFETIME", "900"))


class Login(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != "/login":
            self.send_error(404)
            return
        iat = int(time.time())
        exp = iat + LIFETIME
        claims = {"iss": ISS, "aud": AUD, "sub": "client", "iat": iat, "nbf": iat, "exp": exp}
        body = json.dumps(
            {"access_token": jwt.encode(claims, SECRET, algorithm="HS256"), "exp": exp}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Login)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
