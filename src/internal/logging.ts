/**
 * Where rrq's log lines go when it owns the process (the CLI) or is asked to (the Promise
 * facade): stderr, so stdout stays the data's or the app's, as logfmt (the default), Effect's
 * pretty format, or JSON lines whose annotations (workerId, loop, queue, jobId, attempt,
 * function) are top-level fields.
 */
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

export const LOG_FORMATS = ["logfmt", "pretty", "json"] as const
export type LogFormat = typeof LOG_FORMATS[number]

export const LOG_LEVELS = {
  none: LogLevel.None,
  error: LogLevel.Error,
  warning: LogLevel.Warning,
  info: LogLevel.Info,
  debug: LogLevel.Debug
} as const
export type LogLevelName = keyof typeof LOG_LEVELS

const textOf = (message: unknown): string =>
  Array.isArray(message) ? message.map(textOf).join(" ") : typeof message === "string" ? message : JSON.stringify(message) ?? String(message)

/** One JSON object per line: time, level, message, the annotations as fields, fiber, cause. */
const jsonLogger = Logger.make(({ annotations, cause, date, fiberId, logLevel, message }) => {
  const line: Record<string, unknown> = { time: date.toISOString(), level: logLevel.label, message: textOf(message) }
  for (const [key, value] of HashMap.toEntries(annotations)) if (!(key in line)) line[key] = value
  line.fiber = FiberId.threadName(fiberId)
  if (!Cause.isEmpty(cause)) line.cause = Cause.pretty(cause, { renderErrorCause: true })
  return JSON.stringify(line)
})

const toStderr = (logger: Logger.Logger<unknown, string>) => logger.pipe(Logger.map((line) => process.stderr.write(`${line}\n`)))

/** Replaces the default logger with one writing `format` to stderr, from `level` up (default: info). */
export const stderrLogger = (format: LogFormat = "logfmt", level: LogLevelName = "info"): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      format === "pretty"
        ? Logger.prettyLogger({ stderr: true, colors: "auto" })
        : toStderr(format === "json" ? jsonLogger : Logger.logfmtLogger)
    ),
    Logger.minimumLogLevel(LOG_LEVELS[level])
  )

/** `RRQ_LOG_FORMAT` and `RRQ_LOG_LEVEL`, checked; an unknown value is named in the error. */
export const fromEnv = (env: NodeJS.ProcessEnv = process.env): { format: LogFormat; level: LogLevelName } | string => {
  const format = env.RRQ_LOG_FORMAT ?? "logfmt"
  const level = env.RRQ_LOG_LEVEL ?? "info"
  if (!(LOG_FORMATS as ReadonlyArray<string>).includes(format)) return `RRQ_LOG_FORMAT: '${format}' is not one of ${LOG_FORMATS.join(", ")}`
  if (!(level in LOG_LEVELS)) return `RRQ_LOG_LEVEL: '${level}' is not one of ${Object.keys(LOG_LEVELS).join(", ")}`
  return { format: format as LogFormat, level: level as LogLevelName }
}
