import { run } from './main.js';

// The step is over when run() settles. A request a package gave up on can stay open (the Azure
// SDK's blob upload that @actions/artifact abandons after ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS ignores
// its abort), and must not hold the job until its timeout: the process ends once its log is out.
void run().finally(() => process.stdout.write('', () => process.exit()));
