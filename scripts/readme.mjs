// Keeps the README's generated parts equal to their sources, as actions/checkout keeps its usage
// block equal to action.yml: the inputs and outputs tables come from action.yml, and each example
// block from its file under examples/. `npm run readme` rewrites them; a test fails when they drift.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function cell(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|');
}

export function inputsTable(action) {
  const rows = Object.entries(action.inputs).map(([name, input]) => {
    const fallback = input.required
      ? 'required'
      : input.default === ''
        ? ''
        : `\`${input.default}\``;
    return `| \`${name}\` | ${fallback} | ${cell(input.description)} |`;
  });
  return ['| input | default | description |', '|---|---|---|', ...rows].join('\n');
}

export function outputsTable(action) {
  const rows = Object.entries(action.outputs).map(
    ([name, output]) => `| \`${name}\` | ${cell(output.description)} |`
  );
  return ['| output | description |', '|---|---|', ...rows].join('\n');
}

/** Replaces what stands between `<!-- name -->` and `<!-- /name -->`. */
function fill(text, marker, content) {
  const open = `<!-- ${marker} -->`;
  const close = `<!-- /${marker.split(':')[0]} -->`;
  const start = text.indexOf(open);
  if (start < 0) throw new Error(`README has no ${open}`);
  const end = text.indexOf(close, start);
  if (end < 0) throw new Error(`README has no ${close} after ${open}`);
  return `${text.slice(0, start + open.length)}\n${content}\n${text.slice(end)}`;
}

export function renderReadme(readme, root = ROOT) {
  const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8'));
  let text = fill(readme, 'inputs', inputsTable(action));
  text = fill(text, 'outputs', outputsTable(action));
  for (const [, file] of readme.matchAll(/<!-- example: ([^ ]+) -->/g)) {
    const yaml = fs.readFileSync(path.join(root, file), 'utf8').trimEnd();
    text = fill(text, `example: ${file}`, `\`\`\`yaml\n${yaml}\n\`\`\``);
  }
  return text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = path.join(ROOT, 'README.md');
  fs.writeFileSync(file, renderReadme(fs.readFileSync(file, 'utf8')));
}
