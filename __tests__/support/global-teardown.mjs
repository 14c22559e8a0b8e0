import * as fs from 'node:fs';

export default async function globalTeardown() {
  await globalThis.immutaTestAzurite?.stop();
  await globalThis.immutaTestGitHubApi?.close();
  if (process.env.IMMUTA_TEST_TMP)
    fs.rmSync(process.env.IMMUTA_TEST_TMP, { recursive: true, force: true });
}
