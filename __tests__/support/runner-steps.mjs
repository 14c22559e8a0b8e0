// One step's calls of the runner protocol, made through the action's own runner (src/runner.ts,
// loaded with Node's type stripping) or through @actions/core: `node runner-steps.mjs own|core`.
// The same calls in the same order, so that two runs in the same environment can be compared
// byte for byte (runner-protocol.test.ts). What a call throws is written to stdout, as "threw:".

const which = process.argv[2];

async function runner() {
  if (which === 'own') return (await import('../../src/action/runner.ts')).workflowRunner;
  if (which !== 'core') throw new Error(`own or core, not ${which}`);
  const core = await import('@actions/core');
  return {
    getInput: (name) => core.getInput(name),
    setSecret: (secret) => core.setSecret(secret),
    setOutput: (name, value) => core.setOutput(name, value),
    info: (message) => core.info(message),
    warning: (message) => core.warning(message),
    debug: (message) => core.debug(message),
    setFailed: (message) => core.setFailed(message),
    // The action appends a block of Markdown and a line break, as addRaw(text, true) does.
    appendSummary: async (markdown) => void (await core.summary.addRaw(markdown, true).write())
  };
}

const r = await runner();
const steps = [
  () => r.info(`api key: [${r.getInput('api key')}]`),
  () => r.info(`connection-key: [${r.getInput('connection-key')}]`),
  () => r.info(`not set: [${r.getInput('not set')}]`),
  () => r.setSecret('line one\nline two\r\n100% %0A::'),
  () => r.setSecret('  padded secret  '),
  () => r.setOutput('script', 'USE ROLE "X";\r\nDROP ROLE IF EXISTS x;\n-- 100% done :: a,b\n'),
  () => r.setOutput('empty', ''),
  () => r.setOutput('odd:name,with%', 'one line'),
  () => r.warning('careful: 50% \r\n::error::not a command'),
  () => r.debug('debug %0A line\nnext, and: more'),
  () => r.info('plain ::warning:: text, 100%'),
  () => r.appendSummary('# Deregistered\n\n| host | % |\n|---|---|\n| a,b | ::x:: |'),
  () => r.appendSummary('second block\r\nwith CRLF'),
  () => r.setFailed('failed: 100%\nsecond line, :: and ,')
];
for (const step of steps) {
  try {
    await step();
  } catch (error) {
    process.stdout.write(`threw: ${error.message}\n`);
  }
}
