// The JavaScript a first visit downloads: the entry script in dist/index.html plus the chunks it
// preloads (its static imports), gzipped. Fails above the budget (issue 6: under 250 KB gzipped).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 250;
const dist = new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const files = [
  ...html.matchAll(/<script[^>]+type="module"[^>]+src="\/([^"]+\.js)"/g),
  ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g),
].map((match) => match[1]);
if (files.length === 0) {
  console.error('no entry script found in dist/index.html');
  process.exit(1);
}
let total = 0;
for (const file of new Set(files)) {
  const size = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KB gz  ${file}`);
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KB gz  initial JavaScript (budget ${BUDGET_KB} KB)`);
if (total > BUDGET_KB * 1024) {
  console.error(`initial JavaScript is over the ${BUDGET_KB} KB budget`);
  process.exit(1);
}
