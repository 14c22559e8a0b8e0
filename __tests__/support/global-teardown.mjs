import * as fs from 'node:fs';

export default function globalTeardown() {
  if (process.env.IMMUTA_TEST_TMP)
    fs.rmSync(process.env.IMMUTA_TEST_TMP, { recursive: true, force: true });
}
