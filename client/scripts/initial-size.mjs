// The JavaScript a first visit to each page downloads, gzipped: the shell (the entry script and its
// static imports) plus that page's chunk and its static imports, from Vite's build manifest
// (build.manifest: true). A deep link to /app/leads loads the shell and the leads page together,
// so the budget is per page, not the shell alone. A part a page loads lazily (the board, which
// /app/leads?view=board shows at once; a dialog) counts with the page's load too. Fails when any
// of them is over the budget (issue 6: under 250 KB gzipped).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_KB = 250;
const dist = new URL('../dist/', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'));

const gzipped = new Map();
function size(file) {
  if (!gzipped.has(file)) gzipped.set(file, gzipSync(readFileSync(join(dist, file)), { level: 9 }).length);
  return gzipped.get(file);
}

/** A chunk and everything it imports statically (what the browser fetches before running it). */
function withStaticImports(key, into = new Set()) {
  if (into.has(key)) return into;
  into.add(key);
  for (const imported of manifest[key].imports ?? []) withStaticImports(imported, into);
  return into;
}

const kb = (bytes) => (bytes / 1024).toFixed(1).padStart(7);
const total = (keys) => [...keys].reduce((sum, key) => sum + size(manifest[key].file), 0);

const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
if (!entry) {
  console.error('no entry in dist/.vite/manifest.json (is build.manifest on?)');
  process.exit(1);
}
const shell = withStaticImports(entry);
// Every page is a lazy route chunk (src/router.tsx): a dynamic import of the entry.
const pages = (manifest[entry].dynamicImports ?? []).filter((key) => manifest[key].isDynamicEntry);
if (pages.length === 0) {
  console.error('no lazy page chunks found: is every route still a lazy import?');
  process.exit(1);
}

console.log(`${kb(total(shell))} KB gz  the shell (${[...shell].map((key) => manifest[key].file).join(', ')})`);
const over = [];
let worst = 0;
const nameOf = (key) => key.replace(/^src\/pages\//, '').replace(/\.tsx$/, '');
function report(label, keys, base) {
  const bytes = total(keys);
  const own = total([...keys].filter((key) => !base.has(key)));
  console.log(`${kb(bytes)} KB gz  ${label} (+${kb(own).trim()} KB)`);
  worst = Math.max(worst, bytes);
  if (bytes > BUDGET_KB * 1024) over.push(label);
}
for (const page of pages) {
  const initial = withStaticImports(page, new Set(shell));
  report(nameOf(page), initial, shell);
  for (const part of manifest[page].dynamicImports ?? []) {
    report(`  ${nameOf(page)} + ${nameOf(part).split('/').pop()}`, withStaticImports(part, new Set(initial)), initial);
  }
}
console.log(`${kb(worst)} KB gz  the largest (budget ${BUDGET_KB} KB)`);
if (over.length) {
  console.error(`over the ${BUDGET_KB} KB initial-JavaScript budget: ${over.join(', ')}`);
  process.exit(1);
}
