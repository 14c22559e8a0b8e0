// Runs the loopback Immuta stand-in until stopped, for trying the action by hand, for
// `npm run local-action`, and for the CI job that runs the action with `uses: ./`.
//   node scripts/stand-in.mjs [--port 8765] [--prefix /immuta]
import { parseArgs } from 'node:util';
import { startImmutaStandIn } from '../__tests__/support/immuta-stand-in.mjs';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8765' }, prefix: { type: 'string', default: '' } }
});
const immuta = await startImmutaStandIn({ port: Number(values.port), prefix: values.prefix });
console.log(
  `listening ${immuta.url} (api-key ${immuta.apiKey}; hosts: ${Object.keys(immuta.state.hosts).join(', ')})`
);

const stop = async () => {
  await immuta.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {
  for (const r of immuta.requests.splice(0)) console.log(`${r.method} ${r.rawPath}`);
}, 200);
