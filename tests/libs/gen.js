// Prints, as NDJSON fixture lines, the errors that node's `jsonwebtoken` and `jose` really raise
// for each case of tests/libs/README.md, in every form users log them. Run from this directory
// after `npm ci`; tests/library_errors.rs compares the output with tests/data/library_errors.jsonl.
"use strict";

const jsonwebtoken = require("jsonwebtoken");

// A fixed "now" (both libraries take one), so that no text depends on the day it was made.
const NOW = 1790000000;
const SECRET = Buffer.from("skew-exporter library fixtures, not a real secret");
const OTHER_SECRET = Buffer.from("another secret, so the signature does not verify");
const ISS = "https://issuer.test";
const AUD = "api";

// Case -> the reason a form that carries the information must map to.
const EXPECTED = {
  good: null,
  expired: "expired",
  nbf_future: "not_yet_valid",
  iat_future: "issued_in_future",
  bad_signature: "invalid_signature",
  unknown_key: "unknown_key",
  wrong_issuer: "invalid_issuer",
  wrong_audience: "invalid_audience",
  missing_exp: "missing_claim",
  alg_not_allowed: "invalid_algorithm",
  garbage: "malformed",
  iat_too_old: "expired",
};

function claims(c) {
  const base = { iss: ISS, aud: AUD, sub: "user", iat: NOW - 60, exp: NOW + 3600 };
  const out = { ...base, ...c };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

const CLAIMS = {
  good: claims({}),
  expired: claims({ iat: NOW - 7200, exp: NOW - 3600 }),
  nbf_future: claims({ nbf: NOW + 3600, exp: NOW + 7200 }),
  iat_future: claims({ iat: NOW + 3600, exp: NOW + 7200 }),
  bad_signature: claims({}),
  unknown_key: claims({}),
  wrong_issuer: claims({ iss: "https://someone-else.test" }),
  wrong_audience: claims({ aud: "not-api" }),
  missing_exp: claims({ exp: undefined }),
  alg_not_allowed: claims({}),
};

function out(library, kase, form, text, expected) {
  process.stdout.write(JSON.stringify({ library, case: kase, form, text, expected }) + "\n");
}

// What carries the information in `form` for this error: `null` when the text says nothing.
function expectedFor(kase, text, uninformative) {
  return uninformative.includes(text) ? null : EXPECTED[kase];
}

function nodeForms(library, kase, e, uninformative) {
  const forms = [
    ["e.name", e.name],
    ["e.code", e.code],
    ["e.message", e.message],
    ["`${e.name}: ${e.message}`", `${e.name}: ${e.message}`],
    ["String(e)", String(e)],
    // What docs/events.md recommends for jose: the code, and the message that names the claim.
    ["`${e.code}: ${e.message}`", e.code === undefined ? undefined : `${e.code}: ${e.message}`],
  ];
  for (const [form, text] of forms) {
    if (text === undefined) continue; // jsonwebtoken's errors have no code
    out(library, kase, form, text, expectedFor(kase, text, uninformative));
  }
}

function accepted(library, kase) {
  out(library, kase, "accepted", null, null);
}

// ---- jsonwebtoken ----

function jsonwebtokenCases() {
  const lib = "node jsonwebtoken " + require("jsonwebtoken/package.json").version.split(".")[0];
  const opts = { algorithms: ["HS256"], issuer: ISS, audience: AUD, clockTimestamp: NOW };
  const sign = (c, secret = SECRET, alg = "HS256", header = {}) =>
    jsonwebtoken.sign(c, secret, { algorithm: alg, noTimestamp: true, header });
  // jsonwebtoken's error names say only the family: `JsonWebTokenError` is every error that is
  // neither expired nor not-yet-active (signature, issuer, audience, algorithm, garbage).
  const uninformative = ["JsonWebTokenError"];
  const run = (kase, token, secret = SECRET) => {
    try {
      jsonwebtoken.verify(token, secret, opts);
      accepted(lib, kase);
    } catch (e) {
      nodeForms(lib, kase, e, uninformative);
    }
  };
  run("good", sign(CLAIMS.good));
  run("expired", sign(CLAIMS.expired));
  run("nbf_future", sign(CLAIMS.nbf_future));
  run("iat_future", sign(CLAIMS.iat_future)); // jsonwebtoken has no such check
  run("bad_signature", sign(CLAIMS.bad_signature, OTHER_SECRET));
  // The key callback is jsonwebtoken's key lookup (what jwks-rsa plugs into); the callback's
  // own error text follows jsonwebtoken's prefix.
  const lookup = (header, cb) =>
    header.kid === "k1" ? cb(null, SECRET) : cb(new Error("no key for this kid"));
  const token = sign(CLAIMS.unknown_key, SECRET, "HS256", { kid: "k2" });
  jsonwebtoken.verify(token, lookup, opts, (e) => {
    if (e) nodeForms(lib, "unknown_key", e, uninformative);
    else accepted(lib, "unknown_key");
  });
  run("wrong_issuer", sign(CLAIMS.wrong_issuer));
  run("wrong_audience", sign(CLAIMS.wrong_audience));
  run("missing_exp", sign(CLAIMS.missing_exp)); // jsonwebtoken cannot require exp
  run("alg_not_allowed", sign(CLAIMS.alg_not_allowed, SECRET, "HS512"));
  run("garbage", "this is not a token");
}

// ---- jose ----

async function joseCases() {
  const jose = await import("jose");
  const version = require("jose/package.json").version.split(".")[0];
  const lib = "node jose " + version;
  const opts = {
    algorithms: ["HS256"],
    issuer: ISS,
    audience: AUD,
    requiredClaims: ["exp"],
    currentDate: new Date(NOW * 1000),
  };
  const sign = (c, secret = SECRET, alg = "HS256", header = {}) =>
    new jose.SignJWT(c).setProtectedHeader({ alg, ...header }).sign(secret);
  // jose's claim failures share one class and one code, whatever the claim:
  // `JWTClaimValidationFailed` / `ERR_JWT_CLAIM_VALIDATION_FAILED` say nothing alone.
  const uninformative = ["JWTClaimValidationFailed", "ERR_JWT_CLAIM_VALIDATION_FAILED"];
  const run = async (kase, token, key = SECRET, options = opts) => {
    try {
      await jose.jwtVerify(token, key, options);
      accepted(lib, kase);
    } catch (e) {
      nodeForms(lib, kase, e, uninformative);
    }
  };
  await run("good", await sign(CLAIMS.good));
  await run("expired", await sign(CLAIMS.expired));
  await run("nbf_future", await sign(CLAIMS.nbf_future));
  // jose checks iat only with maxTokenAge: it is then in the future, or too old (an expiry).
  await run("iat_future", await sign(CLAIMS.iat_future), SECRET, { ...opts, maxTokenAge: 600 });
  // ... and with maxTokenAge, a token issued too long ago is JWTExpired: by policy, expired.
  const old = claims({ iat: NOW - 3600 });
  await run("iat_too_old", await sign(old), SECRET, { ...opts, maxTokenAge: 600 });
  await run("bad_signature", await sign(CLAIMS.bad_signature, OTHER_SECRET));
  // A key set with kid k1 only, and a token signed by k2 (RS256: a JWKS holds public keys).
  const k1 = await jose.generateKeyPair("RS256", { extractable: true });
  const k2 = await jose.generateKeyPair("RS256");
  const jwks = jose.createLocalJWKSet({
    keys: [{ ...(await jose.exportJWK(k1.publicKey)), kid: "k1", alg: "RS256" }],
  });
  const rsToken = await sign(CLAIMS.unknown_key, k2.privateKey, "RS256", { kid: "k2" });
  await run("unknown_key", rsToken, jwks, { ...opts, algorithms: ["RS256"] });
  await run("wrong_issuer", await sign(CLAIMS.wrong_issuer));
  await run("wrong_audience", await sign(CLAIMS.wrong_audience));
  await run("missing_exp", await sign(CLAIMS.missing_exp));
  await run("alg_not_allowed", await sign(CLAIMS.alg_not_allowed, SECRET, "HS512"));
  await run("garbage", "this is not a token");
}

async function main() {
  jsonwebtokenCases();
  await joseCases();
}

main().catch((e) => {
  process.stderr.write(`gen.js: ${e.stack}\n`);
  process.exit(1);
});

