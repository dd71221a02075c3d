/**
 * The twin of `lua/enqueue.lua` on one queue, in its two passes: `duplicateOf`
 * (nothing is written when an id exists, unless its idempotency key answers for it)
 * and `enqueue` (the records, pending entries or unique-key waits, idempotency keys,
 * and one wake-up for the earliest run-at). The store runs the first pass for every
 * queue of a call before the second, so a call over several queues is atomic too.
 */
import { DuplicateJob } from "../../../Errors.js"
import type { NewJob } from "../../../Job.js"
import type { EnqueueOutcome } from "../../../JobStore.js"
import { deadline, given, hset, keyType, live } from "../keyspace.js"
import { acquireUnique, type Ctx } from "./common.js"

/** `idem:<key>`: the id an idempotency key answers with. */
const idemHolder = (c: Ctx, key: string | undefined) =>
  key === undefined ? undefined : live(c.q.idempotency, key, c.now)?.value

/**
 * The first pass. It also rejects an id given twice in the call (the script would
 * silently overwrite the first), unless an idempotency key of the call answers for it.
 */
export const duplicateOf = (c: Ctx, jobs: ReadonlyArray<NewJob>): DuplicateJob | undefined => {
  const created = new Set<string>()
  const claimedKeys = new Set<string>()
  for (const job of jobs) {
    const idem = given(job.idempotencyKey)
    if (idemHolder(c, idem) !== undefined || (idem !== undefined && claimedKeys.has(idem))) continue
    if (keyType(c, job.id) !== "none" || created.has(job.id)) return new DuplicateJob({ queue: c.q.name, id: job.id })
    created.add(job.id)
    if (idem !== undefined) claimedKeys.add(idem)
  }
  return undefined
}

/** The second pass: one outcome per job, in order. */
export const enqueue = (c: Ctx, jobs: ReadonlyArray<NewJob>): Array<EnqueueOutcome> => {
  let earliest: number | undefined
  const outcomes = jobs.map((job): EnqueueOutcome => {
    const idem = given(job.idempotencyKey)
    const existing = idemHolder(c, idem)
    if (existing !== undefined) return { _tag: "Existing", id: existing }
    const runAt = job.runAt ?? c.now + job.delayMs
    hset(c, job.id, {
      id: job.id,
      queue: c.q.name,
      functionName: job.functionName,
      params: job.params,
      status: "PENDING",
      currentRetries: 0,
      maxRetries: job.maxRetries,
      resultTtlMs: job.resultTtlMs,
      enqueuedAt: c.now,
      nextRunAt: runAt,
      stalls: 0
    })
    if (job.timeoutMs !== undefined) hset(c, job.id, { timeoutMs: job.timeoutMs })
    const traceContext = given(job.traceContext)
    if (traceContext !== undefined) hset(c, job.id, { traceContext })
    const unique = given(job.uniqueKey)
    let runnable = true
    if (unique !== undefined) {
      hset(c, job.id, { uniqueKey: unique })
      runnable = acquireUnique(c, unique, job.id, runAt)
    }
    if (runnable) {
      c.q.pending.set(job.id, runAt)
      if (earliest === undefined || runAt < earliest) earliest = runAt
    }
    if (idem !== undefined) {
      c.q.idempotency.set(idem, { value: job.id, expiresAt: deadline(c.now, c.env.idempotencyTtl) })
    }
    return { _tag: "Created", id: job.id }
  })
  if (earliest !== undefined) c.env.wake(c.q, earliest - c.now)
  return outcomes
}
