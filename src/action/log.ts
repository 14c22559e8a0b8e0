import * as runner from './runner.js';
import { forAnnotation, forLog } from './escape.js';

/**
 * The step's log. Plain lines go through forLog, so no value echoed in them (a connection key,
 * a path, an artifact name, a server's text) can be read by the runner as a command. Warnings,
 * errors and debug lines are workflow commands already, whose text the runner does not parse
 * again; a warning or an error still shows invisible characters as escapes, as a log line does,
 * so that a key with a zero-width space in it reads differently from the key without.
 */
export const log = {
  info: (message: string): void => runner.info(forLog(message)),
  warning: (message: string): void => runner.warning(forAnnotation(message)),
  debug: (message: string): void => runner.debug(message),
  /** Reports the error and makes the step fail when the process ends. */
  error: (message: string): void => runner.setFailed(forAnnotation(message))
};
