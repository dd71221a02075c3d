/** What every command writes besides its data: logs and failures, on stderr. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logging from "../internal/logging.js"
import { UsageError } from "./errors.js"

/**
 * Logs go to stderr, so `--json` output on stdout stays machine-readable: in `RRQ_LOG_FORMAT`
 * (logfmt, pretty, json) from `RRQ_LOG_LEVEL` up, unless a command's flags say otherwise.
 */
export const stderrLogger = (flags: { readonly logFormat?: Logging.LogFormat | undefined; readonly logLevel?: Logging.LogLevelName | undefined } = {}) =>
  Layer.unwrapEffect(Effect.suspend(() => {
    const env = Logging.fromEnv()
    if (typeof env === "string") return Effect.fail(new UsageError({ message: env }))
    return Effect.succeed(Logging.stderrLogger(flags.logFormat ?? env.format, flags.logLevel ?? env.level))
  }))
