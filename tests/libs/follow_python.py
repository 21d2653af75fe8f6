"""tests/follow.rs: a Python service that verifies tokens with PyJWT and logs each rejection,
either with the standard `logging` module (text: the PyJWT exception's module, name and message
on the line, a traceback for forged tokens) or with structlog (JSON: the Authorization header,
the outcome, the exception). Usage: python follow_python.py logging|structlog LOG
"""

import logging
import sys
import time

import jwt

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


def verify(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"], leeway=0)


if MODE == "logging":
    logging.Formatter.converter = time.gmtime  # asctime in UTC
    logging.basicConfig(
        filename=LOG,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("api")
    log.info("Uvicorn running on http://127.0.0.1:8000")
    for case, token in TOKENS:
        try:
            verify(token)
            log.info("token accepted")
        except jwt.exceptions.PyJWTError as e:
            name = f"{type(e).__module__}.{type(e).__name__}"
            # Forged tokens get the traceback too: lines the regex must skip.
            log.warning("token rejected: %s: %s", name, e, exc_info=case == "forged")
elif MODE == "structlog":
    import structlog

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
    for case, token in TOKENS:
        header = f"Bearer {token}"
        try:
            verify(token)
            log.info("token verified", authorization=header, outcome="accepted")
        except jwt.exceptions.PyJWTError as e:
            log.warning(
                "token rejected",
                authorization=header,
                outcome="rejected",
                error=f"{type(e).__name__}: {e}",
            )
    out.close()
else:
    sys.exit(f"unknown mode {MODE}")
