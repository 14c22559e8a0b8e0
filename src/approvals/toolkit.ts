/**
 * @actions/github in a module of its own: review-history.ts imports it dynamically, so ncc
 * bundles it (Octokit and its plugins) in a chunk that only a run reading the review history
 * loads.
 */
export { getOctokit } from '@actions/github';
/** GitHub's defaults for Octokit: its fetch goes through the runner's proxy settings. */
export { defaults } from '@actions/github/lib/utils';
