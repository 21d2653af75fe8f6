// tests/follow.rs: a node HTTP service that verifies each request's Bearer token with
// jsonwebtoken and logs with pino, as such a service would: one JSON line per verification (the
// token's claims under `jwt`, pino's standard `err` on a rejection) among its other lines. The
// script serves it on 127.0.0.1 (a port the system picks), sends it each token over HTTP,
// checks each answer (200 or 401) and stops. Usage: node follow_pino.js LOG
'use strict';
const http = require('http');
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

const server = http.createServer((req, res) => {
  log.info({ req: { method: req.method, url: req.url } }, 'request received');
  const token = (req.headers.authorization || '').replace(/^Bearer /, '');
  const claims = jwt.decode(token);
  try {
    jwt.verify(token, SECRET, { algorithms: ['HS256'] });
    log.info({ svc: 'orders', jwt: claims }, 'token verified');
    res.writeHead(200).end('{"orders":[]}');
  } catch (err) {
    log.warn({ svc: 'orders', jwt: claims, err }, 'token rejected');
    res.writeHead(401).end();
  }
});

const get = (port, token) =>
  new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/orders', headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
  });

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  log.info({ port }, 'server listening');
  for (const [kind, token] of tokens) {
    const status = await get(port, token);
    const want = kind === 'good' ? 200 : 401;
    if (status !== want) {
      console.error(`${kind}: the service answered ${status}, not ${want}`);
      process.exit(1);
    }
  }
  log.info('shutting down');
  server.close();
});
