// A webhook endpoint for Argus's e2e tests: it verifies every delivery with
// the Standard Webhooks library (independent of Argus's signing) and prints
// one JSON line per verified delivery. Usage: node receiver.mjs PORT SECRET.
// POST /mode {"status": 204|503|410, "delay_ms": N} changes its answers.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const [port, secret] = process.argv.slice(2);
const wh = new Webhook(secret);
let mode = { status: 204, delay_ms: 0 };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/mode') {
      mode = { ...mode, ...JSON.parse(body) };
      res.writeHead(204).end();
      return;
    }
    let verified = false;
    let n = {};
    try {
      n = wh.verify(body, {
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': req.headers['webhook-signature'],
      });
      verified = true;
    } catch (e) {
      process.stderr.write(`refused: ${e.message}\n`);
    }
    const answer = () => {
      const status = verified ? mode.status : 400;
      process.stdout.write(JSON.stringify({ id: req.headers['webhook-id'], verified, status, type: n.type, device: n.device, seq: n.seq, event: n.id }) + '\n');
      res.writeHead(status).end();
    };
    if (mode.delay_ms > 0) setTimeout(answer, mode.delay_ms);
    else answer();
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(JSON.stringify({ listening: Number(port) }) + '\n'));
