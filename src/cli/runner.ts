/**
 * Runs an `rrq` command tree as the process: exit codes 0 success, 1 a failed
 * check (or any runtime error), 2 bad usage; failures in one line on stderr,
 * logs on stderr, help without colour codes when piped.
 */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { readFileSync } from "node:fs"
import { UsageError } from "./errors.js"
import { messageOf } from "../internal/errorText.js"
import * as Logging from "../internal/logging.js"
import * as worker from "./worker.js"

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string
}

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  if (error instanceof worker.Exited) return error.code
  return error instanceof UsageError || ValidationError.isValidationError(error) ? 2 : 1
}

/** One line on stderr for a failure (@effect/cli prints its own validation errors). */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const error = Cause.squash(cause)
    if (ValidationError.isValidationError(error) || error instanceof worker.Exited) return
    process.stderr.write(`rrq: ${messageOf(error)}\n`)
  })

// Help and usage errors are coloured on a terminal only: piped or with NO_COLOR, plain text.
const ANSI = /\x1b\[[0-9;]*m/g
const plain = (stream: NodeJS.WriteStream) => !stream.isTTY || Boolean(process.env.NO_COLOR)
const uncolored = (stream: NodeJS.WriteStream, args: ReadonlyArray<unknown>) =>
  plain(stream) ? args.map((a) => (typeof a === "string" ? a.replace(ANSI, "") : a)) : args

export const runCli = <Name extends string, E, A>(root: Command.Command<Name, never, E, A>): void => {
  const logging = Logging.fromEnv()
  if (typeof logging === "string") {
    process.stderr.write(`rrq: ${logging}\n`)
    process.exitCode = 2
    return
  }
  const base = Effect.runSync(Effect.console)
  const console: Console.Console = {
    ...base,
    log: (...args) => base.log(...uncolored(process.stdout, args)),
    error: (...args) => base.error(...uncolored(process.stderr, args))
  }
  const main = Command.run(root, { name: "rrq", version })(process.argv).pipe(
    Effect.tapErrorCause(report),
    Effect.provide(NodeContext.layer),
    Effect.withConsole(console),
    Effect.provide(Logging.stderrLogger(logging.format, logging.level))
  )
  const fiber = Effect.runFork(main)
  // The first SIGINT/SIGTERM interrupts the command; `worker run` and `watch` handle signals themselves.
  const interrupt = () => {
    if (!worker.handedOff) fiber.unsafeInterruptAsFork(fiber.id())
  }
  process.once("SIGINT", interrupt)
  process.once("SIGTERM", interrupt)
  // process.exit drops what a pipe has not taken yet (a --json listing of 200,000 jobs is
  // megabytes, cut at ~200 KB): exit once stdout and stderr have flushed
  fiber.addObserver((exit) => {
    process.exitCode = exitCode(exit)
    process.stdout.write("", () => process.stderr.write("", () => process.exit()))
  })
}
