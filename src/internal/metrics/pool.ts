/**
 * The metrics endpoint of `rrq worker run --num-workers N`: the supervisor serves it and asks
 * its children over IPC at each scrape. Their counters and histograms add up (the
 * deployment's totals); their process figures stay apart, labelled `worker` (the child's
 * index, stable across restarts); the queues' depths are read once, by the supervisor.
 */
import * as Effect from "effect/Effect"
import type { JobStoreShape } from "../../JobStore.js"
import type { Pool } from "../supervisor.js"
import * as LiveWorkers from "./liveWorkers.js"
import { processOnly, queueFamilies, type ScrapeOptions, type Source } from "./endpoint.js"
import { counter, type Family, gauge, merge } from "./prometheus.js"

export const QUESTION = "rrq-metrics"

/** A child's answer. */
export interface ChildMetrics {
  readonly families: ReadonlyArray<Family>
  readonly healthy: boolean
  readonly ready: boolean
}

/** In a child: its families and probes, for the supervisor. */
export const childMetrics = (): ChildMetrics => {
  const workers = LiveWorkers.all()
  return {
    families: processOnly(),
    healthy: workers.length > 0 && workers.every((w) => w.alive()),
    ready: workers.length > 0 && workers.every((w) => w.ready())
  }
}

const perProcess = (name: string) => name.startsWith("process_") || name.startsWith("nodejs_")

/** Labels a child's process figures with its index. */
const labelled = (families: ReadonlyArray<Family>, index: number): Array<Family> =>
  families.map((f) =>
    perProcess(f.name)
      ? { ...f, samples: f.samples.map((s) => ({ ...s, labels: [...s.labels, ["worker", String(index)] as const] })) }
      : f
  )

const ASK_TIMEOUT_MS = 2_000

/** The supervisor's source: its children's metrics merged, the queues, and its own restarts. */
export const poolSource = (pool: Pool, store: JobStoreShape, options: ScrapeOptions = {}): Source => {
  const ask = Effect.promise(() => pool.ask<ChildMetrics>(QUESTION, ASK_TIMEOUT_MS))
  const everyChild = (ok: (m: ChildMetrics) => boolean) =>
    Effect.map(ask, (answers) => answers.length === pool.size && answers.every((a) => a.answer !== undefined && ok(a.answer)))
  return {
    families: Effect.zipWith(ask, queueFamilies(store, options), (answers, queues) => [
      ...merge(answers.flatMap((a) => (a.answer === undefined ? [] : [labelled(a.answer.families, a.index)]))),
      ...queues,
      counter("rrq_supervisor_restarts_total", "Worker processes restarted after a crash", [{ labels: [], value: pool.restarts() }]),
      gauge("rrq_supervisor_workers", "Worker processes that answered this scrape", [{
        labels: [],
        value: answers.filter((a) => a.answer !== undefined).length
      }])
    ]),
    healthy: everyChild((m) => m.healthy),
    ready: everyChild((m) => m.ready)
  }
}
