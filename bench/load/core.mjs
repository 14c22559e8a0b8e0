// What loading @actions/core costs: the import (with the OIDC client it imports eagerly, and
// through it @actions/http-client and the undici that the overrides make the action's own).
import * as core from '@actions/core';

core.getInput('nothing');
