/** The `rrq` command line (bundled into dist/cli/bundle.js; see scripts/build.mjs). */
import { Command } from "@effect/cli"
import * as check from "./check.js"
import * as dlq from "./dlq.js"
import * as job from "./job.js"
import * as metrics from "./metrics.js"
import * as queue from "./queue.js"
import { runCli } from "./runner.js"
import * as worker from "./worker.js"

const rrq = Command.make("rrq").pipe(
  Command.withDescription(
    "rrq: a reliable job queue on Redis.\n\n" +
      "Examples:\n" +
      "  rrq worker run --settings ./rrq.config.ts --queue default --queue emails,3 --concurrency 20\n" +
      "  rrq worker run --settings ./rrq.config.ts --num-workers 4\n" +
      "  rrq job enqueue send_email --params '{\"to\":\"a@b.c\"}' --defer-by 30s\n" +
      "  rrq job result <id> --wait 1m --json\n" +
      "  rrq queue stats --watch\n" +
      "  rrq dlq requeue --function send_email --dry-run\n" +
      "  rrq check --min-workers 2\n" +
      "  rrq metrics serve --port 9464"
  ),
  Command.withSubcommands([worker.command, check.command, queue.command, job.command, dlq.command, metrics.command])
)

runCli(rrq)
