"""A real verifier for tests/probe.rs: FastAPI + PyJWT on loopback.

GET /api/... answers 200 when the Bearer token verifies (HS256 with the secret in the file
SECRET_FILE, audience AUD, leeway LEEWAY seconds), 401 otherwise. It binds 127.0.0.1:0 itself
and prints the port on the first line of stdout. Run it under libfaketime (FAKETIME="+3") to
shift the whole process's clock.
"""
import os
import socket
import sys

import jwt
import uvicorn
from fastapi import FastAPI, Request, Response

SECRET = open(os.environ["SECRET_FILE"], "rb").read().strip()
AUD = os.environ["AUD"]
LEEWAY = float(os.environ.get("LEEWAY", "0"))

app = FastAPI()


@app.get("/api/{rest:path}")
def check(request: Request, rest: str) -> Response:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return Response(status_code=401)
    try:
        jwt.decode(auth[7:], SECRET, algorithms=["HS256"], audience=AUD, leeway=LEEWAY)
    except jwt.PyJWTError:
        return Response(status_code=401)
    return Response(status_code=200, content=b"ok\n")


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(app, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[sock])
sys.exit(0)
