/**
 * `rrq worker ...` alone (dist/cli/bundle-worker.js): the same commands as in
 * bin.ts, without the store commands' code, so a worker starts sooner and keeps
 * less of the bundle in memory before it hands over to workerMain.
 */
import { Command } from "@effect/cli"
import { runCli } from "./runner.js"
import * as worker from "./worker.js"

runCli(Command.make("rrq").pipe(Command.withSubcommands([worker.command])))
