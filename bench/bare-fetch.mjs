// The baseline the action is measured against: the same three requests to Immuta that the action
// sends, with Node's built-in fetch and nothing else: no checks, no retries, no file, no
// artifact. It reads the same INPUT_* variables as the action, so both run from one environment.
const input = (name) => process.env[`INPUT_${name.toUpperCase()}`] ?? '';
const base = input('immuta-url');
const key = encodeURIComponent(input('connection-key'));
const headers = { authorization: input('api-key'), accept: 'application/json' };

const host = await (await fetch(`${base}/data/connection/${key}`, { headers })).json();
const script = await (
  await fetch(`${base}/integrations/${host.nativeIntegrationId}/scripts/delete`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' }
  })
).json();
const deleted = await (
  await fetch(`${base}/data/object/${key}`, { method: 'DELETE', headers })
).json();
console.log(`script of ${script.length} characters; ${deleted.childCount} child objects deleted`);
