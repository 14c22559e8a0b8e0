// What loading @actions/github costs: the import (Octokit, its REST endpoint methods and
// pagination, on the same undici), and the client a run reading who approved builds.
import { getOctokit } from '@actions/github';

getOctokit('bench-token');
