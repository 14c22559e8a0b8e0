import * as core from '@actions/core';
import { forLog } from './escape.js';

/**
 * The step's log. Plain lines go through forLog, so no value echoed in them (a connection key,
 * a path, an artifact name, a server's text) can be read by the runner as a command. Warnings
 * and debug lines are workflow commands already, whose text the runner does not parse again.
 */
export const log = {
  info: (message: string): void => core.info(forLog(message)),
  warning: (message: string): void => core.warning(message),
  debug: (message: string): void => core.debug(message)
};
