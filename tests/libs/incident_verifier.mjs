// A real API verifying tokens for tests/incidents.rs: node `jose` on loopback.
// GET /api/... answers 200 when the Bearer token verifies (HS256, the secret in SECRET_FILE,
// audience AUD, clockTolerance LEEWAY seconds, jose's default 0), 401 otherwise, and appends
// one verification event per request to EVENTS_FILE in skew-exporter's schema (ts, received,
// leeway, source, iss, aud, iat, nbf, exp, outcome, reason): the claims only, never the token.
// The reason is `${e.name}: ${e.message}`, which keeps the claim that failed (e.code alone
// cannot tell nbf from iss). Prints its port on the first line of stdout.
import http from "node:http";
import fs from "node:fs";
import * as jose from "jose";

const key = new TextEncoder().encode(fs.readFileSync(process.env.SECRET_FILE).toString().trim());
const aud = process.env.AUD;
const leeway = Number(process.env.LEEWAY ?? "0");
const source = process.env.SOURCE;
const events = process.env.EVENTS_FILE;

function unverifiedClaims(token) {
  try {
    return jose.decodeJwt(token);
  } catch {
    return {};
  }
}

function emit(received, claims, outcome, reason) {
  const event = { ts: Date.now() / 1000, received, leeway, source, outcome };
  for (const k of ["iss", "aud", "iat", "nbf", "exp"]) {
    const v = claims[k];
    if (typeof v === "number" || (typeof v === "string" && (k === "iss" || k === "aud"))) {
      event[k] = v;
    }
  }
  if (reason !== undefined) event.reason = reason;
  fs.appendFileSync(events, JSON.stringify(event) + "\n");
}

const server = http.createServer(async (req, res) => {
  const received = Date.now() / 1000;
  const auth = req.headers.authorization || "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  if (!req.url.startsWith("/api/")) {
    res.writeHead(404).end();
    return;
  }
  try {
    const { payload } = await jose.jwtVerify(token, key, {
      algorithms: ["HS256"],
      audience: aud,
      clockTolerance: leeway,
    });
    emit(received, payload, "accepted");
    res.writeHead(200).end("ok\n");
  } catch (e) {
    emit(received, unverifiedClaims(token), "rejected", `${e.name}: ${e.message}`);
    res.writeHead(401).end();
  }
});
server.keepAliveTimeout = 30000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
