// Writes dist/.source-hash: a hash of everything the bundle is built from.
// gateway/console_test.go computes the same hash in Go and fails when the
// committed bundle is stale. Keep the two in step:
//   files: package.json, package-lock.json, tsconfig.json, vite.config.ts,
//          index.html and every file under src/ (recursively), as paths
//          relative to gateway/console with "/" separators, sorted bytewise;
//   hash:  sha256 over, for each file, path + "\0" + hex(sha256(content)) + "\n".
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const top = ['package.json', 'package-lock.json', 'tsconfig.json', 'vite.config.ts', 'index.html'];

function walk(rel) {
  const out = [];
  for (const ent of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel + '/' + ent.name;
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.isFile()) out.push(p);
  }
  return out;
}

const files = [...top, ...walk('src')].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
const h = createHash('sha256');
for (const f of files) {
  const sum = createHash('sha256').update(readFileSync(join(root, f))).digest('hex');
  h.update(f + '\0' + sum + '\n');
}
const hash = h.digest('hex');
writeFileSync(join(root, 'dist', '.source-hash'), hash + '\n');
console.log('dist/.source-hash', hash);
