/** What every command writes besides its data: logs and failures, on stderr. */
import * as Logger from "effect/Logger"

/** Logs go to stderr, so `--json` output on stdout stays machine-readable. */
export const stderrLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.logfmtLogger.pipe(Logger.map((line) => process.stderr.write(`${line}\n`)))
)
