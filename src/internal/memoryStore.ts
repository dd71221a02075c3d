/**
 * The in-memory JobStore (`layerMemory`): the transitions of `lua/*.lua` on plain
 * Maps, timed by Effect's `Clock` so tests can drive it with TestClock.
 *
 * - `memory/keyspace.ts`: the model of the Redis keyspace (hashes, sorted sets in
 *   Redis order, TTLs) and the Lua-compatibility helpers;
 * - `memory/scripts/<name>.ts`: one twin per `lua/<name>.lua`, the same steps in the
 *   same order (`memory/scripts/common.ts` mirrors `lua/include/common.lua`);
 * - `memory/signals.ts`: the pub/sub channels (wake, done, cancel);
 * - `memory/reads.ts`, `memory/heartbeats.ts`: what the Redis store does with plain commands.
 *
 * This file wires them into a JobStoreShape. Each script runs in one synchronous
 * step, with no yield between reading and writing, which makes it atomic the way a
 * Lua script is. As in Redis, a command error in the middle of a script (WRONGTYPE)
 * keeps the writes made so far and fails with `JobStoreError`.
 *
 * Why not the real Lua in an embedded VM: docs/architecture.md, "The memory store".
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { JobNotFound, JobStoreError } from "../Errors.js"
import { type JobRef, validateNewJob } from "../Job.js"
import type { NewJob } from "../Job.js"
import type {
  ClaimOptions,
  Completion,
  DlqFilter,
  EnqueueOutcome,
  JobState,
  JobStoreShape,
  Lease
} from "../JobStore.js"
import * as Keys from "../Keys.js"
import { RrqSettings } from "../Settings.js"
import * as DlqChunks from "./dlqChunks.js"
import * as Heartbeats from "./memory/heartbeats.js"
import { emptyQueue, putRecord, type QueueState, ScriptError } from "./memory/keyspace.js"
import * as Reads from "./memory/reads.js"
import { cancel as cancelScript } from "./memory/scripts/cancel.js"
import { claim as claimScript } from "./memory/scripts/claim.js"
import type { Ctx, Env } from "./memory/scripts/common.js"
import { complete as completeScript } from "./memory/scripts/complete.js"
import { dlqPurge as dlqPurgeScript } from "./memory/scripts/dlq-purge.js"
import { dlqRequeue as dlqRequeueScript } from "./memory/scripts/dlq-requeue.js"
import { dlqCount, dlqScan } from "./memory/scripts/dlq-scan.js"
import { duplicateOf, enqueue as enqueueScript } from "./memory/scripts/enqueue.js"
import { extend as extendScript } from "./memory/scripts/extend.js"
import { fail as failScript } from "./memory/scripts/fail.js"
import { pause as pauseScript } from "./memory/scripts/pause.js"
import { promote as promoteScript } from "./memory/scripts/promote.js"
import { recover as recoverScript, type RecoverArgs } from "./memory/scripts/recover.js"
import { requeue as requeueScript } from "./memory/scripts/requeue.js"
import { retry as retryScript, type RetryArgs } from "./memory/scripts/retry.js"
import { stalled } from "./memory/scripts/stalled.js"
import * as Signals from "./memory/signals.js"
import { positionsByQueue } from "./newJob.js"

/** The store plus hooks for the contract suite to simulate corrupted data. */
export interface MemoryStore extends JobStoreShape {
  /** Replaces a job's record: a field map, a key of the wrong type (like a Redis string), or nothing. */
  readonly unsafeSetRecord: (
    queue: string,
    id: string,
    record: Record<string, string> | "not-a-hash" | undefined
  ) => Effect.Effect<void>
  /** Adds a raw pending entry, whether or not a record exists. */
  readonly unsafeAddPending: (queue: string, id: string, runAt: number) => Effect.Effect<void>
}

export const make: Effect.Effect<MemoryStore, never, RrqSettings> = Effect.gen(function*() {
  const settings = yield* RrqSettings
  const keys = Keys.make(settings.keyPrefix)
  const signals = Signals.make()
  const heartbeats = Heartbeats.make()

  // The keyspace: every queue's keys, and the `rrq:queues` set.
  const queues = new Map<string, QueueState>()
  const known = new Set<string>()
  let tokenSeq = 0

  const queueState = (name: string): QueueState => {
    let q = queues.get(name)
    if (q === undefined) queues.set(name, (q = emptyQueue(name, keys.queue(name).prefix)))
    return q
  }

  const env: Env = {
    lockTtl: settings.uniqueLockTtlMs,
    dlqTtl: settings.dlqTtlMs,
    idempotencyTtl: settings.idempotencyTtlMs,
    wake: (q, dueInMs) => signals.wake(q.name, dueInMs),
    done: (q, id) => signals.done(q.name, id)
  }

  /**
   * Runs one script body atomically at a single `now`. A `ScriptError` becomes
   * `JobStoreError` (writes made before it stay, as in Redis); any other throw is a defect.
   */
  const atomically = <A>(name: string, body: (now: number) => A): Effect.Effect<A, JobStoreError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(body(now))
        } catch (e) {
          if (e instanceof ScriptError) {
            return Effect.fail(new JobStoreError({ message: `Script ${name} failed: ${e.message}`, cause: e }))
          }
          throw e
        }
      }))

  /** A script on one queue's keys. */
  const script = <A>(name: string, queue: string, body: (c: Ctx) => A): Effect.Effect<A, JobStoreError> =>
    atomically(name, (now) => body({ q: queueState(queue), now, env }))

  /** enqueue.lua for each queue of the call: the duplicate check of every queue runs before anything is written. */
  const enqueue = Effect.fn("MemoryStore.enqueue")(function*(jobs: ReadonlyArray<NewJob>) {
    for (const job of jobs) {
      const invalid = validateNewJob(job, settings.maxPayloadBytes)
      if (invalid !== undefined) return yield* invalid
    }
    const groups = [...positionsByQueue(jobs)].map(([queue, indexes]) => ({ queue, indexes, jobs: indexes.map((i) => jobs[i]!) }))
    const outcome = yield* atomically("enqueue", (now) => {
      for (const group of groups) {
        const duplicate = duplicateOf({ q: queueState(group.queue), now, env }, group.jobs)
        if (duplicate !== undefined) return duplicate
      }
      const outcomes: Array<EnqueueOutcome> = new Array(jobs.length)
      for (const group of groups) {
        known.add(group.queue)
        const written = enqueueScript({ q: queueState(group.queue), now, env }, group.jobs)
        written.forEach((o, k) => (outcomes[group.indexes[k]!] = o))
      }
      return outcomes
    })
    if (!Array.isArray(outcome)) return yield* outcome
    return outcome
  })

  const claim = Effect.fn("MemoryStore.claim")(function*(queue: string, { count, leaseMs, workerId }: ClaimOptions) {
    // the random part is drawn before the atomic step; the sequence makes it unique
    const random = yield* Random.nextIntBetween(0, 0x1000000)
    const tokenBase = `${workerId}-${random.toString(16).padStart(6, "0")}${(tokenSeq++).toString(36)}`
    return yield* script("claim", queue, (c) => claimScript(c, { count, leaseMs, workerId, tokenBase }))
  })

  const cancel = Effect.fn("MemoryStore.cancel")(function*(ref: JobRef) {
    const outcome = yield* script("cancel", ref.queue, (c) => cancelScript(c, ref.id))
    if (outcome === undefined) return yield* new JobNotFound({ queue: ref.queue, id: ref.id })
    // PUBLISH cancel, only for a job that was running; listeners run after the script, as a message would
    if (outcome._tag === "Cancelled" && outcome.wasRunning) signals.cancel(ref.queue, ref.id)
    return outcome
  })

  /** A DLQ bulk operation: chunk by chunk (DlqChunks.loop), each chunk one script. */
  const dlqChunks = <A>(
    queue: string,
    filter: DlqFilter,
    name: string,
    step: (c: Ctx, call: DlqChunks.Call) => DlqChunks.Chunk<A>
  ) =>
    DlqChunks.loop(filter, (call) => script(name, queue, (c) => step(c, call)))

  const store: MemoryStore = {
    enqueue,
    claim,
    complete: (queue: string, completions: ReadonlyArray<Completion>) =>
      script("complete", queue, (c) => completeScript(c, completions)),
    retry: (queue: string, lease: Lease, options: RetryArgs) => script("retry", queue, (c) => retryScript(c, lease, options)),
    fail: (queue: string, lease: Lease, error: string) => script("fail", queue, (c) => failScript(c, lease, error)),
    requeue: (queue: string, leases: ReadonlyArray<Lease>) => script("requeue", queue, (c) => requeueScript(c, leases)),
    extend: (queue: string, leases: ReadonlyArray<Lease>, leaseMs: number) =>
      script("extend", queue, (c) => extendScript(c, leases, leaseMs)),
    stalledQueues: (names: ReadonlyArray<string>) =>
      Effect.map(Clock.currentTimeMillis, (now) => stalled(names.map(queueState), now)),
    recover: (queue: string, options: RecoverArgs) => script("recover", queue, (c) => recoverScript(c, options)),
    cancel,
    setPaused: (queue: string, paused: boolean) => script("pause", queue, (c) => pauseScript(c, paused)),
    promote: (queue: string, { id, limit }: { readonly id?: string; readonly limit: number }) =>
      script("promote", queue, (c) => promoteScript(c, id, Math.max(1, Math.min(limit, 1_000)))),
    getJob: Effect.fn("MemoryStore.getJob")(function*(ref: JobRef) {
      return yield* Reads.getJob(queueState(ref.queue), ref)
    }),
    listJobs: Effect.fn("MemoryStore.listJobs")(function*(
      queue: string,
      state: JobState,
      options: { readonly offset: number; readonly limit: number }
    ) {
      return yield* Reads.listJobs(queueState(queue), state, options)
    }),
    dlqRequeue: (queue: string, filter: DlqFilter) =>
      dlqChunks(queue, filter, "dlq-requeue", (c, call) => dlqRequeueScript(c, call, filter.functionName ?? "")),
    dlqPurge: (queue: string, filter: DlqFilter) =>
      Effect.map(
        dlqChunks(queue, filter, "dlq-purge", (c, call) => dlqPurgeScript(c, call, filter.functionName ?? "")),
        (ids) => ids.length
      ),
    dlqPreview: (queue: string, filter: DlqFilter, action: "requeue" | "purge") =>
      dlqChunks(queue, filter, "dlq-scan", (c, call) => dlqScan(c, call, action, filter.functionName ?? "")),
    dlqByFunction: (queue: string) =>
      Effect.map(dlqChunks(queue, {}, "dlq-scan", dlqCount), DlqChunks.byFunction),
    // looked up when it runs: a stats effect made before the queue existed still sees it
    stats: (queue: string) => Effect.suspend(() => Reads.stats(queue, queues.get(queue))),
    queues: Effect.sync(() => [...known].sort()),
    onWake: signals.onWake,
    finishedSignal: signals.finishedSignal,
    onCancel: signals.onCancel,
    ...heartbeats,
    // --- test hooks ---
    unsafeSetRecord: (queue, id, record) => Effect.sync(() => putRecord(queueState(queue), id, record)),
    unsafeAddPending: (queue, id, runAt) =>
      Effect.sync(() => {
        queueState(queue).pending.set(id, runAt)
        // waking idle workers is always harmless: they just claim
        signals.wake(queue)
      })
  }
  return store
})
