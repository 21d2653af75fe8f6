"""A real API verifying tokens for tests/incidents.rs: FastAPI + PyJWT on loopback.

GET /api/... answers 200 when the Bearer token verifies (HS256 with the secret in SECRET_FILE,
audience AUD, leeway LEEWAY seconds, PyJWT's default 0), 401 otherwise, and appends one
verification event per request to EVENTS_FILE in skew-exporter's schema (ts, received, leeway,
source, iss, aud, iat, nbf, exp, outcome, reason): the claims only, never the token.

`received` is the time the request arrived: the `X-Request-Start: t=<unix seconds>` header a
proxy in front sets (nginx `$msec`, as Heroku-style request-queueing monitors read it), else
this process's clock when the request reached the app. BLOCK seconds (default 0) of synchronous
`time.sleep` inside the async dependency reproduce blocking validation: the event loop stalls
and every request behind it waits.

It binds 127.0.0.1:0 itself and prints the port on the first line of stdout. Run it under
libfaketime (FAKETIME="+0.3") to make the verifier's clock wrong (keep BLOCK at 0 then:
time.sleep can fail under libfaketime's preload).
"""
import asyncio
import json
import os
import socket
import sys
import time

import jwt
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request

SECRET = open(os.environ["SECRET_FILE"], "rb").read().strip()
AUD = os.environ["AUD"]
LEEWAY = float(os.environ.get("LEEWAY", "0"))
SOURCE = os.environ["SOURCE"]
BLOCK = float(os.environ.get("BLOCK", "0"))
EVENTS = open(os.environ["EVENTS_FILE"], "a", buffering=1)

app = FastAPI()


def unverified_claims(token: str) -> dict:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def emit(received: float, claims: dict, outcome: str, reason: str | None = None) -> None:
    event = {
        "ts": time.time(),
        "received": received,
        "leeway": LEEWAY,
        "source": SOURCE,
        "outcome": outcome,
    }
    for k in ("iss", "aud", "iat", "nbf", "exp"):
        v = claims.get(k)
        if isinstance(v, (int, float)) or (isinstance(v, str) and k in ("iss", "aud")):
            event[k] = v
    if reason is not None:
        event["reason"] = reason
    # One write per line: the exporter tails this file.
    EVENTS.write(json.dumps(event) + "\n")


async def signing_key() -> bytes:
    # An async key cache (a real one awaits a lock or a JWKS refresh): the request yields once.
    await asyncio.sleep(0)
    return SECRET


async def current_claims(request: Request) -> dict:
    start = request.headers.get("x-request-start", "")
    received = float(start[2:]) if start.startswith("t=") else time.time()
    key = await signing_key()
    if BLOCK > 0:
        # The synchronous call inside the async dependency (a blocking HTTP call to an
        # introspection endpoint, a CPU-heavy check): it holds the whole event loop.
        time.sleep(BLOCK)
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else ""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], audience=AUD, leeway=LEEWAY)
    except jwt.PyJWTError as e:
        emit(received, unverified_claims(token), "rejected", f"{type(e).__name__}: {e}")
        raise HTTPException(status_code=401)
    emit(received, claims, "accepted")
    return claims


@app.get("/api/{rest:path}")
async def api(rest: str, claims: dict = Depends(current_claims)) -> dict:
    return {"sub": claims.get("sub")}


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(256)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=256)
uvicorn.Server(config).run(sockets=[sock])
sys.exit(0)
