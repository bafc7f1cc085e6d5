// The peer of `dieuhanh-bench live`: a plain Node.js `ws` broadcast server, the transport floor
// dieuhanh's /live is compared with. It keeps no views, no database and does no aggregation:
// `POST /publish` stamps the body's arrival (µs since 1970) and sends the body, as a text frame,
// to every connected client. The bench gives it the text of a delta dieuhanh sent, so both send
// the same bytes. Clients connect to /live; each text message they send (a subscribe) is answered
// with the snapshot text set by `POST /snapshot`, as dieuhanh answers with a snapshot.
// `POST /gc` collects garbage (with --expose-gc) so the bench reads a clean RSS.
// Usage: node --expose-gc server.js PORT     (ws on NODE_PATH; scripts/bench installs it)
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.js PORT');
  process.exit(2);
}

// Wall-clock microseconds: performance.now() is monotonic with sub-ms resolution.
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

let snapshot = Buffer.from('{"type":"snapshot"}');

function readBody(req, done) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks)));
}

const server = http.createServer((req, res) => {
  const reply = (status, obj) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  if (req.method === 'POST' && req.url === '/publish') {
    readBody(req, (frame) => {
      const acceptedAtUs = nowUs();
      let clients = 0;
      for (const c of wss.clients) {
        if (c.readyState === WebSocket.OPEN) {
          c.send(frame, { binary: false });
          clients++;
        }
      }
      reply(200, { accepted_at_us: acceptedAtUs, clients });
    });
  } else if (req.method === 'POST' && req.url === '/snapshot') {
    readBody(req, (body) => {
      snapshot = body;
      reply(200, { bytes: body.length });
    });
  } else if (req.method === 'POST' && req.url === '/gc') {
    if (global.gc) global.gc();
    reply(200, { gc: Boolean(global.gc) });
  } else {
    reply(404, { error: 'not found' });
  }
});

const wss = new WebSocketServer({ server, path: '/live', perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.send('{"type":"welcome","protocol":1}');
  ws.on('message', (_data, isBinary) => {
    if (!isBinary) ws.send(snapshot, { binary: false });
  });
  ws.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => {
  console.error(`node ws peer listening on 127.0.0.1:${port} (ws ${require('ws/package.json').version})`);
});
process.on('SIGTERM', () => process.exit(0));
