/** What every command writes besides its data: logs and failures, on stderr. */
import * as Logger from "effect/Logger"

/** The message of a failure, for its one line on stderr. */
export const messageOf = (error: unknown): string =>
  error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)

/** Logs go to stderr, so `--json` output on stdout stays machine-readable. */
export const stderrLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.logfmtLogger.pipe(Logger.map((line) => process.stderr.write(`${line}\n`)))
)
