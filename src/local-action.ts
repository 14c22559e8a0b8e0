/**
 * The entry point `npm run local-action` gives GitHub's @github/local-action, which stands in
 * for `@actions/core` (every import of it, the action's runner included) to show inputs, outputs
 * and the summary. The bundle's entry is index.ts; this file is not part of it.
 */
export { run } from './main.js';
