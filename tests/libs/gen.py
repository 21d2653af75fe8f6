"""Prints, as NDJSON fixture lines, the errors that PyJWT and python-jose really raise for each
case of tests/libs/README.md, in every form users log them. Run with the venv of .ci/run
(requirements.txt); tests/library_errors.rs compares the output with
tests/data/library_errors.jsonl.
"""

import contextlib
import http.server
import json
import sys
import threading
import time

import jose
import jose.jwt
import jwt

# Neither library takes a "now": the tokens are built around the real time, and no text below
# carries a time.
NOW = int(time.time())
# 64 bytes: PyJWT warns about shorter HMAC keys for HS512.
SECRET = "skew-exporter library fixtures, not a real secret, 64 bytes long."
OTHER_SECRET = "another secret, so the signature does not verify, 64 bytes long."
ISS = "https://issuer.test"
AUD = "api"

# Case -> the reason a form that carries the information must map to.
EXPECTED = {
    "good": None,
    "expired": "expired",
    "nbf_future": "not_yet_valid",
    "iat_future": "issued_in_future",
    "bad_signature": "invalid_signature",
    "unknown_key": "unknown_key",
    "wrong_issuer": "invalid_issuer",
    "wrong_audience": "invalid_audience",
    "missing_exp": "missing_claim",
    "alg_not_allowed": "invalid_algorithm",
    "garbage": "malformed",
}


def claims(**c):
    out = {"iss": ISS, "aud": AUD, "sub": "user", "iat": NOW - 60, "exp": NOW + 3600}
    out.update(c)
    return {k: v for k, v in out.items() if v is not None}


CLAIMS = {
    "good": claims(),
    "expired": claims(iat=NOW - 7200, exp=NOW - 3600),
    "nbf_future": claims(nbf=NOW + 3600, exp=NOW + 7200),
    "iat_future": claims(iat=NOW + 3600, exp=NOW + 7200),
    "bad_signature": claims(),
    "unknown_key": claims(),
    "wrong_issuer": claims(iss="https://someone-else.test"),
    "wrong_audience": claims(aud="not-api"),
    "missing_exp": claims(exp=None),
    "alg_not_allowed": claims(),
}


def out(library, case, form, text, expected):
    line = {"library": library, "case": case, "form": form, "text": text, "expected": expected}
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def forms(library, case, e, uninformative=(), overrides=None):
    """The three forms users log; `uninformative` texts say nothing alone (expected null),
    `overrides` maps a text to what it says when that is less than the case."""
    overrides = overrides or {}
    name = type(e).__name__
    for form, text in (
        ("type(e).__name__", name),
        ("str(e)", str(e)),
        ('f"{type(e).__name__}: {e}"', f"{name}: {e}"),
    ):
        if text in uninformative:
            expected = None
        else:
            expected = overrides.get(text, EXPECTED[case])
        out(library, case, form, text, expected)


@contextlib.contextmanager
def serve(body):
    """An HTTP server on loopback that answers every GET with `body`; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def pyjwt_cases():
    lib = "PyJWT " + jwt.__version__.split(".")[0]
    sign = lambda c, key=SECRET, alg="HS256", headers=None: jwt.encode(
        c, key, algorithm=alg, headers=headers
    )
    opts = {"require": ["exp", "iat"]}
    # PyJWT raises the not-before class for an iat in the future: the name alone says
    # "not yet valid", only the message tells iat from nbf.
    overrides = {"ImmatureSignatureError": "not_yet_valid"}

    def run(case, token, key=SECRET):
        try:
            jwt.decode(token, key, algorithms=["HS256"], audience=AUD, issuer=ISS, options=opts)
            out(lib, case, "accepted", None, None)
        except jwt.PyJWTError as e:
            forms(lib, case, e, overrides=overrides)

    for case in ("good", "expired", "nbf_future", "iat_future"):
        run(case, sign(CLAIMS[case]))
    run("bad_signature", sign(CLAIMS["bad_signature"], OTHER_SECRET))
    # PyJWKClient: the key set served over HTTP (on loopback here), looked up by the token's kid.
    jwks = {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "use": "sig",
                      "k": jwt.utils.base64url_encode(SECRET.encode()).decode()}]}
    with serve(json.dumps(jwks).encode()) as url:
        token = sign(CLAIMS["unknown_key"], headers={"kid": "k2"})
        try:
            key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
            run("unknown_key", token, key)
        except jwt.PyJWTError as e:
            # The message names the token's kid (k2 here).
            forms(lib, "unknown_key", e)
    for case in ("wrong_issuer", "wrong_audience", "missing_exp"):
        run(case, sign(CLAIMS[case]))
    run("alg_not_allowed", sign(CLAIMS["alg_not_allowed"], alg="HS512"))
    run("garbage", "this is not a token")


def python_jose_cases():
    lib = "python-jose " + jose.__version__.split(".")[0]
    sign = lambda c, key=SECRET, alg="HS256", headers=None: jose.jwt.encode(
        c, key, algorithm=alg, headers=headers
    )
    opts = {"require_exp": True, "require_iat": True}
    # python-jose's JWTError is the base class of every error it raises, and most of them are
    # raised as it; JWTClaimsError is every claim failure but expiry.
    uninformative = ("JWTError", "JWTClaimsError")

    def run(case, token, key=SECRET):
        try:
            jose.jwt.decode(token, key, algorithms=["HS256"], audience=AUD, issuer=ISS,
                            options=opts)
            out(lib, case, "accepted", None, None)
        except jose.JOSEError as e:
            forms(lib, case, e, uninformative)

    for case in ("good", "expired", "nbf_future", "iat_future"):
        run(case, sign(CLAIMS[case]))
    run("bad_signature", sign(CLAIMS["bad_signature"], OTHER_SECRET))
    # A JWK set as the key, and a token by a key outside it: python-jose has no notion of an
    # unknown key (it tries every key of the set), so this is a bad signature to it.
    jwks = {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256",
                      "k": jwt.utils.base64url_encode(SECRET.encode()).decode()}]}
    token = sign(CLAIMS["unknown_key"], OTHER_SECRET, headers={"kid": "k2"})
    try:
        jose.jwt.decode(token, jwks, algorithms=["HS256"], audience=AUD, issuer=ISS, options=opts)
        out(lib, "unknown_key", "accepted", None, None)
    except jose.JOSEError as e:
        forms(lib, "unknown_key", e, uninformative,
              {str(e): "invalid_signature", f"{type(e).__name__}: {e}": "invalid_signature"})
    for case in ("wrong_issuer", "wrong_audience", "missing_exp"):
        run(case, sign(CLAIMS[case]))
    run("alg_not_allowed", sign(CLAIMS["alg_not_allowed"], alg="HS512"))
    run("garbage", "this is not a token")


if __name__ == "__main__":
    pyjwt_cases()
    python_jose_cases()
