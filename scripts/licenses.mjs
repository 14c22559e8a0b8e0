// Writes dist/licenses.txt: the license of every package the bundle holds, found from the
// bundle's source maps. ncc's own list keys packages by name, so when two versions of one
// package are bundled, which text it keeps depends on the order webpack happened to see them
// in; this list holds every name@version, sorted, and so is the same on every build.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

/** The package folder a bundled file came from, e.g. node_modules/@scope/name. */
function packageDir(source) {
  // Sources read like .././node_modules/a/node_modules/@b/c/lib/x.js: the deepest package wins.
  const relative = source.replace(/^(\.\.\/)*(\.\/)?/, '');
  const m = /^(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*)\//.exec(
    relative
  );
  return m ? path.join(root, m[1]) : undefined;
}

const dirs = new Set();
for (const file of fs.readdirSync(dist).filter((f) => f.endsWith('.js.map'))) {
  const { sources } = JSON.parse(fs.readFileSync(path.join(dist, file), 'utf8'));
  for (const source of sources) {
    const dir = packageDir(source);
    if (dir) dirs.add(dir);
  }
}

const entries = new Map();
for (const dir of dirs) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const id = `${pkg.name}@${pkg.version}`;
  if (entries.has(id)) continue;
  const licenseFile = fs
    .readdirSync(dir)
    .filter((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f))
    .sort()[0];
  const text = licenseFile ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim() : '';
  const license =
    typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? 'see package');
  entries.set(id, { name: pkg.name, version: pkg.version, license, text });
}

const sorted = [...entries.values()].sort((a, b) =>
  a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1
);
const body = sorted
  .map((e) => [`${e.name}@${e.version}`, e.license, e.text].filter(Boolean).join('\n'))
  .join('\n\n');
fs.writeFileSync(path.join(dist, 'licenses.txt'), `${body}\n`);
console.log(`dist/licenses.txt: ${sorted.length} packages`);
