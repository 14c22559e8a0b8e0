import * as runner from './runner.js';
import { forLog } from './escape.js';

/**
 * The step's log. Plain lines go through forLog, so no value echoed in them (a connection key,
 * a path, an artifact name, a server's text) can be read by the runner as a command. Warnings
 * and debug lines are workflow commands already, whose text the runner does not parse again.
 */
export const log = {
  info: (message: string): void => runner.info(forLog(message)),
  warning: (message: string): void => runner.warning(message),
  debug: (message: string): void => runner.debug(message)
};
