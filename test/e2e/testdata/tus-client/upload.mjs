// An independent tus client for Argus's e2e tests (tus-js-client, the
// protocol's reference client). Usage:
//   node upload.mjs start BASE KEY FILE STOP  upload FILE to BASE/v1/uploads/,
//        aborting once STOP (0..1) of it is sent; prints {"url","sent"}
//   node upload.mjs resume URL KEY FILE       resume the upload at URL (the
//        client reads the offset with HEAD); prints {"url","first","done"}
import fs from 'node:fs';
import path from 'node:path';
import * as tus from 'tus-js-client';

const [mode, target, key, file, stop] = process.argv.slice(2);
const data = fs.readFileSync(file);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const common = {
  headers: { Authorization: `Bearer ${key}` },
  chunkSize: 128 * 1024,
  retryDelays: [],
  metadata: { filename: path.basename(file), renditions: '360p,720p' },
  onError: (e) => { out({ error: String(e) }); process.exit(1); },
};

if (mode === 'start') {
  const up = new tus.Upload(data, {
    ...common,
    endpoint: `${target}/v1/uploads/`,
    onProgress: (sent, total) => {
      if (sent >= Number(stop) * total) {
        up.abort(false).then(() => { out({ url: up.url, sent }); process.exit(0); });
      }
    },
    onSuccess: () => { out({ url: up.url, sent: data.length, finished: true }); },
  });
  up.start();
} else {
  let first = -1;
  const up = new tus.Upload(data, {
    ...common,
    uploadUrl: target,
    onProgress: (sent) => { if (first < 0) first = sent; },
    onSuccess: () => { out({ url: up.url, first, done: true }); },
  });
  up.start();
}
