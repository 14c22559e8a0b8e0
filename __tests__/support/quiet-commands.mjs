// Keeps `npm test` from printing workflow commands. When CI runs the suite on a GitHub runner,
// the runner reads every line of its output as the action's own: a `::add-mask::` written by
// @actions/core inside a test would mask text in the CI log, a `::warning::` would annotate the
// commit. Code that writes such lines in-process (the artifact client held to @actions/artifact,
// which logs through @actions/core; the action's runner protocol) writes them through this
// filter, which puts a backslash before the first `:` of a line that opens with one and before
// the `[` of any `##[`: the runner neither trims nor skips a backslash, and the line still reads
// as it was. Installed in the parent process (global-setup.mjs) and in every test file's
// environment (jest.config.js setupFiles), so that neither a worker's output nor jest's own
// report of a failure can carry a command. Tests that spy on process.stdout see what was written.
import { StringDecoder } from 'node:string_decoder';

const FILTERED = Symbol.for('immuta-action.quiet-commands');

/** The text with commands defused, given the state the stream was left in; updates the state. */
export function defuse(text, state) {
  let out = '';
  for (const c of text) {
    if (c === '\n' || c === '\r') {
      state.lineStart = true;
      state.hashes = 0;
      out += c;
      continue;
    }
    const printable = c >= ' ' && c <= '~';
    if (state.lineStart && printable && c !== ' ') {
      state.lineStart = false;
      if (c === ':') out += '\\';
    }
    if (c === '[' && state.hashes >= 2) out += '\\';
    // The runner's search skips characters outside printable ASCII between the two `#`.
    if (c === '#') state.hashes++;
    else if (printable) state.hashes = 0;
    out += c;
  }
  return out;
}

/** Puts the filter in front of `stream.write`, once per stream. */
export function quietCommands(stream) {
  if (stream[FILTERED]) return;
  stream[FILTERED] = true;
  const write = stream.write.bind(stream);
  const state = { lineStart: true, hashes: 0 };
  const decoder = new StringDecoder('utf8');
  stream.write = (chunk, encoding, callback) => {
    const done = typeof encoding === 'function' ? encoding : callback;
    const text =
      typeof chunk !== 'string'
        ? decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
        : typeof encoding === 'string' && !/^utf-?8$/i.test(encoding)
          ? Buffer.from(chunk, encoding).toString('utf8')
          : chunk;
    return write(defuse(text, state), done);
  };
}

/** As a setupFiles module: the test file's process streams. */
quietCommands(process.stdout);
quietCommands(process.stderr);
