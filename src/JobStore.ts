/**
 * JobStore: every state transition of a job (docs/architecture.md, "Data flow"), as one service.
 * Two implementations: `layerRedis` (each transition one Lua script) and
 * `layerMemory` (pure Effect, works with TestClock). Both pass the contract
 * suite in `rrq/testing`.
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { CorruptedJob, DuplicateJob, InvalidOptions, JobNotFound, JobStoreError } from "./Errors.js"
import type { Job, JobRef, JobStatus, NewJob } from "./Job.js"
import * as MemoryStore from "./internal/memoryStore.js"
import * as RedisStore from "./internal/redisStore.js"
import * as Redis from "./Redis.js"
import type { RedisClient } from "./Redis.js"
import * as Scripts from "./internal/scripts.js"
import type { RrqSettings } from "./Settings.js"

/** What a worker needs to run a claimed job. */
export interface ClaimedJob {
  readonly queue: string
  readonly id: string
  readonly functionName: string
  /** JSON text of the params. */
  readonly params: string
  readonly currentRetries: number
  readonly maxRetries: number
  readonly timeoutMs: number | undefined
  readonly enqueuedAt: number
  readonly leaseToken: string
  readonly traceContext: string | undefined
  /** When it became due (its run-at, epoch ms on the store's clock): the wait is `ClaimResult.now − dueAt`. */
  readonly dueAt?: number | undefined
}

export interface ClaimResult {
  readonly jobs: ReadonlyArray<ClaimedJob>
  /** The run-at of the earliest job still pending (undefined: none). */
  readonly nextRunAt: number | undefined
  /**
   * The store's clock when it claimed (Redis's `TIME`; the Effect Clock for the memory store):
   * the clock run-ats are written in. The next job is due in `nextRunAt − now`, whatever the
   * caller's own clock says.
   */
  readonly now: number
}

export interface ClaimOptions {
  readonly count: number
  readonly workerId: string
  readonly leaseMs: number
}

/** `Created` for a new job, `Existing` when an idempotency key matched an earlier one. */
export type EnqueueOutcome =
  | { readonly _tag: "Created"; readonly id: string }
  | { readonly _tag: "Existing"; readonly id: string }

/** A lease-bearing reference to a running job. */
export interface Lease {
  readonly id: string
  readonly token: string
}

export interface Completion extends Lease {
  /** JSON text of the result. */
  readonly result: string
}

/** `lost`: the caller no longer holds the lease; nothing was written. */
export type RetryOutcome = "RETRYING" | "FAILED" | "lost"
export type FailOutcome = "FAILED" | "lost"

export type CancelOutcome =
  | { readonly _tag: "Cancelled"; readonly wasRunning: boolean }
  | { readonly _tag: "AlreadyFinished"; readonly status: JobStatus }

export interface RecoverOutcome {
  /** Jobs whose lease expired, back in pending (stalls + 1). */
  readonly requeued: ReadonlyArray<string>
  /** Jobs that stalled more than `maxStalls` times, or whose record was unreadable. */
  readonly deadLettered: ReadonlyArray<string>
}

/** Where a job sits: the pending, active or dead-letter set of its queue. */
export type JobState = "pending" | "active" | "dlq"

/** Which DLQ jobs a requeue or purge takes: these ids (else the whole DLQ), of this function, at most `limit` (0: no limit). */
export interface DlqFilter {
  readonly ids?: ReadonlyArray<string>
  readonly functionName?: string
  readonly limit?: number
}

export interface QueueStats {
  readonly queue: string
  /** Pending and due now. */
  readonly ready: number
  /** Pending with a run-at in the future (deferred, or waiting out a retry backoff). */
  readonly delayed: number
  readonly active: number
  readonly dlq: number
  readonly completedTotal: number
  readonly failedTotal: number
  /** The queue is paused: its jobs are not claimed (enqueues still land). */
  readonly paused: boolean
  /** How long the oldest ready job has been due, in ms (undefined when none is ready). */
  readonly oldestReadyAgeMs?: number | undefined
}

/** A worker's heartbeat, as stored under `rrq:worker:<id>` and listed by `rrq check`. */
export interface WorkerInfo {
  readonly id: string
  readonly pid: number
  readonly host: string
  readonly queues: ReadonlyArray<string>
  readonly concurrency: number
  /** Jobs running at the last beat. */
  readonly active: number
  readonly status: "running" | "stopping"
  readonly startedAt: number
  readonly lastBeat: number
  /** The process's figures at the last beat (absent in heartbeats of rrq before 0.2.0). */
  readonly process?: WorkerProcessFigures | undefined
}

/** What a heartbeat says of the worker's process (RRQ's "worker process metrics"). */
export interface WorkerProcessFigures {
  readonly rssBytes: number
  /** CPU use since the previous beat, in % of one core. */
  readonly cpuPercent: number
  /** p99 of the event loop's delay over the last 10 s, in ms. */
  readonly eventLoopLagP99Ms: number
  readonly uptimeSeconds: number
  /** Jobs this worker completed and dead-lettered since it started. */
  readonly completed: number
  readonly failed: number
  /** Times the supervisor of `--num-workers` restarted this worker's process. */
  readonly restarts: number
}

export interface JobStoreShape {
  /** Writes jobs (record + pending entry) atomically per queue. A duplicate id fails the whole call. */
  readonly enqueue: (
    jobs: ReadonlyArray<NewJob>
  ) => Effect.Effect<ReadonlyArray<EnqueueOutcome>, DuplicateJob | InvalidOptions | JobStoreError>
  /** Moves up to `count` ready jobs to active with a fresh lease token each. */
  readonly claim: (queue: string, options: ClaimOptions) => Effect.Effect<ClaimResult, JobStoreError>
  /** Records results; `false` for each completion whose lease was lost. */
  readonly complete: (
    queue: string,
    completions: ReadonlyArray<Completion>
  ) => Effect.Effect<ReadonlyArray<boolean>, JobStoreError>
  /**
   * Counts a failed attempt: back to pending after `delayMs`, or FAILED into the
   * DLQ when attempts are used up (`maxRetries` overrides the record's, e.g. a handler's own).
   */
  readonly retry: (
    queue: string,
    lease: Lease,
    options: { readonly delayMs: number; readonly error: string; readonly maxRetries?: number | undefined }
  ) => Effect.Effect<RetryOutcome, JobStoreError>
  /** Counts a failed attempt and moves the job to the DLQ at once. */
  readonly fail: (queue: string, lease: Lease, error: string) => Effect.Effect<FailOutcome, JobStoreError>
  /** Returns running jobs to pending without counting an attempt (shutdown). */
  readonly requeue: (queue: string, leases: ReadonlyArray<Lease>) => Effect.Effect<ReadonlyArray<boolean>, JobStoreError>
  /** Renews leases; `false` for each lease that was lost. */
  readonly extend: (
    queue: string,
    leases: ReadonlyArray<Lease>,
    leaseMs: number
  ) => Effect.Effect<ReadonlyArray<boolean>, JobStoreError>
  /**
   * The queues, of those given, that may hold an expired lease: every queue that does is among
   * them. The Redis store answers from its lease index in one call (a store without an index
   * answers all of them); a recovery sweep then runs `recover` on these only.
   */
  readonly stalledQueues: (queues: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, JobStoreError>
  /** Returns jobs whose lease expired to pending, or to the DLQ after `maxStalls`. */
  readonly recover: (
    queue: string,
    options: { readonly maxStalls: number; readonly limit: number }
  ) => Effect.Effect<RecoverOutcome, JobStoreError>
  /** Cancels a pending job at once; a running one is marked CANCELLED and its worker told to interrupt it. */
  readonly cancel: (ref: JobRef) => Effect.Effect<CancelOutcome, JobNotFound | JobStoreError>
  /**
   * Pauses (true) or resumes (false) a queue for every worker: a paused queue takes enqueues
   * but hands out no job to claim; resuming wakes idle workers. Succeeds with whether the
   * state changed.
   */
  readonly setPaused: (queue: string, paused: boolean) => Effect.Effect<boolean, JobStoreError>
  /**
   * Deferred or backing-off jobs run now: the job `id`, or (without one) up to `limit` of the
   * queue's, earliest first. Jobs already due, running or finished are left alone. Returns the
   * ids promoted.
   */
  readonly promote: (queue: string, options: { readonly id?: string; readonly limit: number }) => Effect.Effect<ReadonlyArray<string>, JobStoreError>
  readonly getJob: (ref: JobRef) => Effect.Effect<Option.Option<Job>, CorruptedJob | JobStoreError>
  /**
   * Jobs of a queue in one state: pending (by run-at), active (by lease deadline)
   * or the DLQ (most recent failure first). Records that expired or cannot be read
   * are skipped (`getJob` reports the latter as CorruptedJob).
   */
  readonly listJobs: (
    queue: string,
    state: JobState,
    options: { readonly offset: number; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<Job>, CorruptedJob | JobStoreError>
  /**
   * Moves matching DLQ jobs back to pending, with retries, status and expiry reset, oldest
   * failure first (or in the order of `ids`). Returns their ids. Works in bounded chunks,
   * so it is not atomic as a whole: jobs dead-lettered after it started are left alone.
   */
  readonly dlqRequeue: (queue: string, filter: DlqFilter) => Effect.Effect<ReadonlyArray<string>, JobStoreError>
  /** Deletes matching DLQ jobs, in the chunks and order of `dlqRequeue`. Returns how many. */
  readonly dlqPurge: (queue: string, filter: DlqFilter) => Effect.Effect<number, JobStoreError>
  /** The ids `dlqRequeue` or `dlqPurge` would act on now, in their order (a dry run); changes nothing. */
  readonly dlqPreview: (
    queue: string,
    filter: DlqFilter,
    action: "requeue" | "purge"
  ) => Effect.Effect<ReadonlyArray<string>, JobStoreError>
  /** How many dead-lettered records each function name has (entries whose record expired are not counted). */
  readonly dlqByFunction: (queue: string) => Effect.Effect<Readonly<Record<string, number>>, JobStoreError>
  readonly stats: (queue: string) => Effect.Effect<QueueStats, JobStoreError>
  readonly queues: Effect.Effect<ReadonlyArray<string>, JobStoreError>
  /**
   * Calls `onWake(queue, dueInMs)` whenever work may have become ready in one of these queues
   * (an enqueue, a retry, a recovery, a requeue, a unique key handed over), until the scope
   * closes. `dueInMs` is how long until that work is due, by the store's clock (0: now). When
   * wake-ups may have been missed (the subscription was only now established, or established
   * again after a reconnection), it is called for every queue with 0. Returns once listening
   * (or once the first attempt to subscribe failed: it keeps trying in the scope).
   */
  readonly onWake: (
    queues: ReadonlyArray<string>,
    onWake: (queue: string, dueInMs: number) => void
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Arms a wait for the job reaching a terminal state (or being cancelled). */
  readonly finishedSignal: (ref: JobRef) => Effect.Effect<Effect.Effect<void>, never, Scope.Scope>
  /** Calls `onCancel` with the ref of every running job of these queues that gets cancelled, until the scope closes. */
  readonly onCancel: (
    queues: ReadonlyArray<string>,
    onCancel: (ref: JobRef) => void
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Records a worker's heartbeat, kept for `ttlMs`. */
  readonly heartbeat: (info: WorkerInfo, ttlMs: number) => Effect.Effect<void, JobStoreError>
  readonly removeHeartbeat: (workerId: string) => Effect.Effect<void, JobStoreError>
  /** Workers whose heartbeat has not expired, by id. */
  readonly workers: Effect.Effect<ReadonlyArray<WorkerInfo>, JobStoreError>
}

export class JobStore extends Context.Tag("rrq/JobStore")<JobStore, JobStoreShape>() {}

/** The Redis store: every transition one Lua script. Needs RedisClient and RrqSettings. */
export const layerRedis: Layer.Layer<JobStore, never, RedisClient | RrqSettings> = Layer.scoped(
  JobStore,
  RedisStore.make
).pipe(Layer.provide(Scripts.layer))

/** The Redis store over its own connection, from RrqSettings.redisUrl. */
export const layerRedisConfig: Layer.Layer<JobStore, never, RrqSettings> = layerRedis.pipe(
  Layer.provide(Redis.layerFromSettings)
)

/** The in-memory store: pure Effect, for tests and the demo (works with TestClock). */
export const layerMemory: Layer.Layer<JobStore, never, RrqSettings> = Layer.effect(JobStore, MemoryStore.make)
