"""tests/follow.rs: a FastAPI app that verifies the Bearer token of each request with PyJWT and
logs each verification, either with the standard `logging` module (text: the PyJWT exception's
module, name and message on the line, a traceback for forged tokens, uvicorn's own start-up and
access lines in the same file) or with structlog (JSON: the Authorization header, the outcome,
the exception). The script serves the app with uvicorn on 127.0.0.1 (a port the system picks),
sends it each token of TOKENS over HTTP, checks each answer (200 or 401) and stops.
Usage: python follow_python.py logging|structlog LOG
"""

import http.client
import logging
import socket
import sys
import threading
import time

import jwt
import uvicorn
from fastapi import FastAPI, Header, HTTPException

MODE, LOG = sys.argv[1], sys.argv[2]
SECRET = "api-test-secret-of-thirty-two-bytes!"
ISS = "https://auth.test"
now = int(time.time())


def sign(secret=SECRET, **claims):
    return jwt.encode({"iss": ISS, "sub": "user-1", **claims}, secret, algorithm="HS256")


# (case, token): the truth tests/follow.rs checks the exporter against.
TOKENS = [
    ("good", sign(iat=now - 2, exp=now + 600)),
    ("good", sign(iat=now - 1, exp=now + 600)),
    ("good", sign(iat=now - 3, exp=now + 600)),
    ("expired", sign(iat=now - 1000, exp=now - 100)),
    ("expired", sign(iat=now - 2000, exp=now - 1000)),
    ("premature", sign(iat=now - 1, nbf=now + 300, exp=now + 900)),
    ("premature", sign(iat=now, nbf=now + 60, exp=now + 900)),
    # PyJWT checks iat: an issuer 30 s ahead is "not yet valid (iat)".
    ("issued_in_future", sign(iat=now + 30, exp=now + 900)),
    ("forged", sign("not-the-secret-of-thirty-two-bytes!", iat=now - 5, exp=now + 600)),
]

if MODE == "logging":
    logging.Formatter.converter = time.gmtime  # asctime in UTC
    # uvicorn's loggers (started with log_config=None) propagate here too: its start-up and
    # access lines land in the same file, as in a service that logs to one place.
    logging.basicConfig(
        filename=LOG,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("api")

    def accepted(header):
        log.info("token accepted")

    def rejected(header, e, forged):
        name = f"{type(e).__module__}.{type(e).__name__}"
        # Forged tokens get the traceback too: lines the regex must skip.
        log.warning("token rejected: %s: %s", name, e, exc_info=forged)

elif MODE == "structlog":
    import structlog

    # uvicorn's own lines go to standard error here: the JSON file holds the app's events.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = open(LOG, "a", buffering=1)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=out),
    )
    log = structlog.get_logger()
    log.info("startup complete", app="api")

    def accepted(header):
        log.info("token verified", authorization=header, outcome="accepted")

    def rejected(header, e, forged):
        log.warning(
            "token rejected",
            authorization=header,
            outcome="rejected",
            error=f"{type(e).__name__}: {e}",
        )

else:
    sys.exit(f"unknown mode {MODE}")

app = FastAPI()


@app.get("/api/orders")
def orders(authorization: str = Header(default="")):
    token = authorization.removeprefix("Bearer ")
    try:
        jwt.decode(token, SECRET, algorithms=["HS256"], leeway=0)
    except jwt.exceptions.PyJWTError as e:
        rejected(authorization, e, isinstance(e, jwt.exceptions.InvalidSignatureError))
        raise HTTPException(status_code=401, detail="invalid token")
    accepted(authorization)
    return {"orders": []}


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
thread.start()
deadline = time.monotonic() + 20
while not server.started:
    if time.monotonic() > deadline or not thread.is_alive():
        sys.exit("uvicorn did not start")
    time.sleep(0.01)

for case, token in TOKENS:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/orders", headers={"Authorization": f"Bearer {token}"})
    status = conn.getresponse().status
    conn.close()
    want = 200 if case == "good" else 401
    if status != want:
        sys.exit(f"{case}: the app answered {status}, not {want}")

server.should_exit = True
thread.join(10)
if MODE == "structlog":
    out.close()
