// A real verifier for tests/probe.rs: node on loopback, with `jose` (LIB=jose, clockTolerance
// from LEEWAY) or `jsonwebtoken` (LIB=jsonwebtoken, clockTolerance from LEEWAY or unset).
// GET /api/... answers 200 when the Bearer token verifies (HS256, the secret in SECRET_FILE,
// audience AUD), 401 otherwise. Prints its port on the first line of stdout.
import http from "node:http";
import fs from "node:fs";
import * as jose from "jose";
import jsonwebtoken from "jsonwebtoken";

const secret = fs.readFileSync(process.env.SECRET_FILE).toString().trim();
const aud = process.env.AUD;
const leeway = process.env.LEEWAY === undefined ? undefined : Number(process.env.LEEWAY);
const lib = process.env.LIB;
const key = new TextEncoder().encode(secret);

async function verify(token) {
  if (lib === "jose") {
    const opts = { algorithms: ["HS256"], audience: aud };
    if (leeway !== undefined) opts.clockTolerance = leeway;
    await jose.jwtVerify(token, key, opts);
  } else {
    const opts = { algorithms: ["HS256"], audience: aud };
    if (leeway !== undefined) opts.clockTolerance = leeway;
    jsonwebtoken.verify(token, secret, opts);
  }
}

const server = http.createServer(async (req, res) => {
  const auth = req.headers.authorization || "";
  if (!req.url.startsWith("/api/") || !auth.startsWith("Bearer ")) {
    res.writeHead(401).end();
    return;
  }
  try {
    await verify(auth.slice(7));
    res.writeHead(200).end("ok\n");
  } catch (e) {
    res.writeHead(401).end();
  }
});
server.keepAliveTimeout = 30000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
