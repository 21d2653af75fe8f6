// tests/follow.rs: a node service that verifies tokens with jsonwebtoken and logs with pino,
// as such a service would: one JSON line per verification (the token's claims under `jwt`,
// pino's standard `err` on a rejection) among its other lines. Usage: node follow_pino.js LOG
'use strict';
const jwt = require('jsonwebtoken');
const pino = require('pino');

const log = pino(pino.destination({ dest: process.argv[2], sync: true }));
const SECRET = 'orders-test-secret-of-thirty-two-bytes';
const now = Math.floor(Date.now() / 1000);
const iss = 'https://auth.test';
const sign = (claims, secret = SECRET) =>
  jwt.sign({ iss, sub: 'user-1', ...claims }, secret, { algorithm: 'HS256' });

// [case, token]: the truth tests/follow.rs checks the exporter against.
const tokens = [
  ['good', sign({ iat: now - 2, exp: now + 600 })],
  ['good', sign({ iat: now - 1, exp: now + 600 })],
  // An issuer 3 s ahead: jsonwebtoken does not check iat, so it is accepted, age -3.
  ['good', sign({ iat: now + 3, exp: now + 600 })],
  ['expired', sign({ iat: now - 1000, exp: now - 100 })],
  ['expired', sign({ iat: now - 2000, exp: now - 1000 })],
  ['premature', sign({ iat: now - 1, nbf: now + 300, exp: now + 900 })],
  ['premature', sign({ iat: now, nbf: now + 60, exp: now + 900 })],
  ['forged', sign({ iat: now - 5, exp: now + 600 }, 'not-the-secret-of-thirty-two-bytes!')],
];

log.info({ port: 8080 }, 'server listening');
for (const [, token] of tokens) {
  const claims = jwt.decode(token);
  log.info({ req: { method: 'GET', url: '/orders' } }, 'request received');
  try {
    jwt.verify(token, SECRET, { algorithms: ['HS256'] });
    log.info({ svc: 'orders', jwt: claims }, 'token verified');
  } catch (err) {
    log.warn({ svc: 'orders', jwt: claims, err }, 'token rejected');
  }
}
log.info('shutting down');
