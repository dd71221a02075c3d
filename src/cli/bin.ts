/**
 * The `rrq` command line. Exit codes: 0 success, 1 a failed check (or any
 * runtime error), 2 bad usage.
 */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import { readFileSync } from "node:fs"
import * as check from "./check.js"
import * as Common from "./common.js"
import * as dlq from "./dlq.js"
import * as job from "./job.js"
import * as queue from "./queue.js"
import * as worker from "./worker.js"

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string
}

const rrq = Command.make("rrq").pipe(
  Command.withDescription(
    "rrq: a reliable job queue on Redis.\n\n" +
      "Examples:\n" +
      "  rrq worker run --settings ./rrq.config.ts --queue default --queue emails:3 --concurrency 20\n" +
      "  rrq worker run --settings ./rrq.config.ts --num-workers 4\n" +
      "  rrq job enqueue send_email --params '{\"to\":\"a@b.c\"}' --defer-by 30s\n" +
      "  rrq job result <id> --wait 1m --json\n" +
      "  rrq queue stats --watch\n" +
      "  rrq dlq requeue --function send_email --dry-run\n" +
      "  rrq check --min-workers 2"
  ),
  Command.withSubcommands([worker.command, check.command, queue.command, job.command, dlq.command])
)

const cli = Command.run(rrq, { name: "rrq", version })

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  return error instanceof Common.UsageError || ValidationError.isValidationError(error) ? 2 : 1
}

/** One line on stderr for a failure (@effect/cli prints its own validation errors). */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const error = Cause.squash(cause)
    if (ValidationError.isValidationError(error)) return
    const message = error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
      ? String((error as { message: unknown }).message)
      : String(error)
    process.stderr.write(`rrq: ${message}\n`)
  })

const main = cli(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide(NodeContext.layer),
  // logs go to stderr, so `--json` output on stdout stays machine-readable
  Effect.provide(
    Logger.replace(
      Logger.defaultLogger,
      Logger.logfmtLogger.pipe(Logger.map((line) => process.stderr.write(`${line}\n`)))
    )
  )
)

const fiber = Effect.runFork(main)
// The first SIGINT/SIGTERM interrupts the command (a worker then shuts down gracefully).
const interrupt = () => fiber.unsafeInterruptAsFork(fiber.id())
process.once("SIGINT", interrupt)
process.once("SIGTERM", interrupt)
fiber.addObserver((exit) => process.exit(exitCode(exit)))
