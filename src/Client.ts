/**
 * RrqClient: enqueue jobs (typed through a JobDefinition, or by bare function
 * name), read them, wait for their results across processes, cancel them.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import {
  CorruptedJob,
  DuplicateJob,
  InvalidOptions,
  InvalidParams,
  JobFailed,
  JobNotFound,
  JobStoreError,
  WaitTimeout
} from "./Errors.js"
import { jobLabels, jobsCancelled, jobsEnqueued, queueLabels } from "./internal/metrics/instruments.js"
import { toNewJob } from "./internal/newJob.js"
import * as Tracing from "./internal/tracing.js"
import { type EnqueueOptions, isTerminal, type Job, JobRef, type NewJob } from "./Job.js"
import * as JobDefinition from "./JobDefinition.js"
import { type CancelOutcome, JobStore } from "./JobStore.js"
import { isValidQueueName, QUEUE_NAME_RULE } from "./Keys.js"
import { type DurationInput, parseDuration, RrqSettings } from "./Settings.js"

/** A job that was enqueued: where it lives, and whether this call created it. */
export class Enqueued<R = unknown> extends JobRef {
  /** false when an idempotency key matched an earlier job. */
  declare readonly created: boolean
  /** Decodes the stored result (the definition's result Schema, or JSON as is). */
  declare readonly decodeResult: (json: unknown) => Either.Either<R, ParseResult.ParseError>
  static of<R>(ref: { queue: string; id: string }, created: boolean, decode: Enqueued<R>["decodeResult"]) {
    const e = new Enqueued<R>(ref, true) // the store made the ref: no need to validate it again
    return Object.assign(e, { created, decodeResult: decode })
  }
}

export type EnqueueError = InvalidParams | InvalidOptions | DuplicateJob | JobStoreError

export interface EnqueueRequest {
  readonly job: JobDefinition.Any | string
  readonly params: unknown
  readonly options?: EnqueueOptions
}

export interface WaitOptions {
  /** Give up with `WaitTimeout` after this long (`"5s"`, `"1 minute"`, ms; default: wait forever). */
  readonly timeout?: DurationInput
}

/** `InvalidOptions`: a `timeout` that is no duration; `InvalidParams`: a result that fails the definition's Schema. */
export type WaitError = WaitTimeout | JobFailed | JobNotFound | CorruptedJob | JobStoreError | InvalidParams | InvalidOptions

export interface RrqClientShape {
  readonly enqueue: {
    <D extends JobDefinition.Any>(
      definition: D,
      params: JobDefinition.Params<D>,
      options?: EnqueueOptions
    ): Effect.Effect<Enqueued<JobDefinition.Result<D>>, EnqueueError>
    (functionName: string, params: unknown, options?: EnqueueOptions): Effect.Effect<Enqueued, EnqueueError>
  }
  /** Enqueues many jobs (at most `MAX_ENQUEUE_MANY`) in one round trip per queue; all or nothing per queue. */
  readonly enqueueMany: (requests: ReadonlyArray<EnqueueRequest>) => Effect.Effect<ReadonlyArray<Enqueued>, EnqueueError>
  readonly getJob: (ref: JobRef) => Effect.Effect<Option.Option<Job>, CorruptedJob | JobStoreError>
  /**
   * Waits until the job is terminal and returns its result, decoded by the
   * definition's Schema when the ref came from a typed enqueue. Event-driven
   * (pub/sub), with a slow re-check in case an event was missed.
   */
  readonly waitForResult: <R = unknown>(
    ref: Enqueued<R> | JobRef,
    options?: WaitOptions
  ) => Effect.Effect<R, WaitError>
  readonly cancel: (ref: JobRef) => Effect.Effect<CancelOutcome, JobNotFound | JobStoreError>
  /**
   * Pauses a queue for every worker at once: it still takes enqueues, but no job of it is
   * claimed until `resume` (running jobs finish). Succeeds with false when it was paused already.
   */
  readonly pause: (queue: string) => Effect.Effect<boolean, InvalidOptions | JobStoreError>
  /** Resumes a paused queue and wakes idle workers; false when it was not paused. */
  readonly resume: (queue: string) => Effect.Effect<boolean, InvalidOptions | JobStoreError>
  /**
   * A deferred or backing-off job runs now (its attempt count stays); false when it was not
   * waiting for a later time (already due, running, finished, or unknown).
   */
  readonly promote: (ref: JobRef) => Effect.Effect<boolean, JobStoreError>
  /** Every deferred or backing-off job of a queue runs now; succeeds with how many. */
  readonly promoteAll: (queue: string) => Effect.Effect<number, InvalidOptions | JobStoreError>
}

export class RrqClient extends Context.Tag("rrq/RrqClient")<RrqClient, RrqClientShape>() {}

const identity = (json: unknown) => Either.right(json)

const decoders = new WeakMap<JobDefinition.Any, Enqueued["decodeResult"]>()
/** A definition's result decoder, made once per definition. */
const resultDecoder = (definition: JobDefinition.Any): Enqueued["decodeResult"] => {
  let decode = decoders.get(definition)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEither(definition.result)
    decoders.set(definition, decode)
  }
  return decode
}

/**
 * The most jobs one `enqueueMany` takes: all of a queue's go into one atomic script,
 * and 5,000 of them take ~50 ms of Redis (which serves nobody else meanwhile).
 */
export const MAX_ENQUEUE_MANY = 5_000

/** How often a waiter re-reads the job in case a completion event was missed (e.g. during a reconnect). */
const RECHECK_MS = 1_000

/**
 * An enqueue in a PRODUCER span `send <queue>` (OpenTelemetry's messaging conventions), whose
 * `traceparent` each job carries in `traceContext` (unless the caller gave one) to its attempts.
 */
const sendTraced = <A extends { readonly id: string }, E>(
  jobs: ReadonlyArray<NewJob>,
  send: (jobs: ReadonlyArray<NewJob>) => Effect.Effect<ReadonlyArray<A>, E>
): Effect.Effect<ReadonlyArray<A>, E> => {
  const queue = jobs[0]?.queue ?? ""
  const oneQueue = jobs.every((j) => j.queue === queue)
  return Effect.flatMap(Effect.orDie(Effect.currentSpan), (span) => {
    const parent = Tracing.traceparent(span)
    return send(jobs.map((j) => (j.traceContext === undefined ? { ...j, traceContext: parent } : j))).pipe(
      Effect.tap((refs) => (refs.length === 1 ? Effect.annotateCurrentSpan("messaging.message.id", refs[0]!.id) : Effect.void))
    )
  }).pipe(
    Effect.withSpan(oneQueue ? `send ${queue}` : "send", {
      kind: "producer",
      attributes: Tracing.sendAttributes(oneQueue ? queue : "(several)", jobs.length)
    })
  )
}

export const make: Effect.Effect<RrqClientShape, never, JobStore | RrqSettings> = Effect.gen(function*() {
  const store = yield* JobStore
  const settings = yield* RrqSettings

  // Plain code around one store call: an enqueue is on the pickup path, where every
  // Effect step counts (a producer enqueueing now and then runs it cold).
  const enqueueMany: RrqClientShape["enqueueMany"] = (requests) =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<Enqueued>, EnqueueError> => {
      if (requests.length > MAX_ENQUEUE_MANY) {
        return Effect.fail(
          new InvalidOptions({
            message: `enqueueMany takes at most ${MAX_ENQUEUE_MANY} jobs per call, got ${requests.length}: split the batch`
          })
        )
      }
      const jobs: Array<NewJob> = []
      // ids given by the caller must differ within the call (generated ones always do)
      let given: Set<string> | undefined
      for (const r of requests) {
        const job = toNewJob(settings, r)
        if (Either.isLeft(job)) return Effect.fail(job.left)
        const j = job.right
        if (!j.fresh) {
          const key = `${j.queue}\u0000${j.id}`
          given ??= new Set()
          if (given.has(key)) return Effect.fail(new DuplicateJob({ queue: j.queue, id: j.id }))
          given.add(key)
        }
        jobs.push(j)
      }
      const send = (jobs: ReadonlyArray<NewJob>) =>
        Effect.map(store.enqueue(jobs), (outcomes) =>
          outcomes.map((outcome, i) => {
            const job = requests[i]!.job
            const decode = typeof job === "string" ? identity : resultDecoder(job)
            const created = outcome._tag === "Created"
            if (created) jobsEnqueued.unsafeUpdate(1, jobLabels(jobs[i]!.queue, jobs[i]!.functionName))
            return Enqueued.of({ queue: jobs[i]!.queue, id: outcome.id }, created, decode)
          }))
      // no tracer installed: no span, nothing to pay
      return Effect.tracerWith((tracer) => Tracing.installed(tracer) === undefined ? send(jobs) : sendTraced(jobs, send))
    })

  const setPaused = (queue: string, paused: boolean) =>
    isValidQueueName(queue)
      ? store.setPaused(queue, paused)
      : Effect.fail(new InvalidOptions({ message: `invalid queue name '${queue}' (${QUEUE_NAME_RULE})` }))

  const enqueue = ((job: JobDefinition.Any | string, params: unknown, options?: EnqueueOptions) =>
    Effect.map(enqueueMany([options ? { job, params, options } : { job, params }]), (refs) => refs[0]!)) as RrqClientShape["enqueue"]

  const waitForResult = <R>(ref: Enqueued<R> | JobRef, options: WaitOptions = {}): Effect.Effect<R, WaitError> => {
    const decode = ref instanceof Enqueued ? ref.decodeResult : (identity as Enqueued<R>["decodeResult"])
    const ms = options.timeout === undefined ? Either.right(Infinity) : parseDuration(options.timeout, "timeout")
    if (Either.isLeft(ms)) return Effect.fail(ms.left)
    // Duration.infinity waits forever, like no timeout
    const timeoutMs = Number.isFinite(ms.right) ? Math.round(ms.right) : undefined
    // One look at the job: Some(result) when terminal; else wait for its event (or the re-check) and None.
    const look: Effect.Effect<Option.Option<R>, WaitError> = Effect.scoped(
      Effect.gen(function*() {
        const finished = yield* store.finishedSignal(ref)
        const job = yield* store.getJob(ref)
        if (Option.isNone(job)) return yield* new JobNotFound({ queue: ref.queue, id: ref.id })
        const j = job.value
        if (j.status === "COMPLETED") {
          const result = yield* Either.mapLeft(
            decode(j.result),
            (e) => new InvalidParams({ message: `result of job '${j.id}' does not match its Schema: ${e.message}` })
          )
          return Option.some(result)
        }
        if (isTerminal(j.status)) {
          return yield* new JobFailed({ queue: j.queue, id: j.id, status: j.status, ...(j.lastError ? { error: j.lastError } : {}) })
        }
        yield* Effect.timeout(finished, RECHECK_MS).pipe(Effect.ignore)
        return Option.none()
      })
    )
    // A Redis outage (a restart, a failover) is waited out, with backoff, for up to a minute
    // in a row: the job is still there when Redis comes back.
    const patient = look.pipe(
      Effect.retry({
        while: (e) => e._tag === "JobStoreError",
        schedule: Schedule.exponential("100 millis").pipe(
          Schedule.union(Schedule.spaced("2 seconds")),
          Schedule.upTo("1 minute")
        )
      })
    )
    const poll = Effect.repeat(patient, { until: Option.isSome }).pipe(Effect.map((r) => (r as Option.Some<R>).value))
    return timeoutMs === undefined
      ? poll
      : poll.pipe(
        Effect.timeoutFail({
          duration: timeoutMs,
          onTimeout: () => new WaitTimeout({ queue: ref.queue, id: ref.id, timeoutMs })
        })
      )
  }

  return {
    enqueue,
    enqueueMany,
    getJob: store.getJob,
    waitForResult,
    promote: (ref) => Effect.map(store.promote(ref.queue, { id: ref.id, limit: 1 }), (ids) => ids.length > 0),
    promoteAll: (queue) =>
      isValidQueueName(queue)
        ? Effect.suspend(() => {
          // in chunks of 1,000 (one script call each): promoted jobs are due, so the next chunk skips them
          const loop = (total: number): Effect.Effect<number, JobStoreError> =>
            Effect.flatMap(store.promote(queue, { limit: 1_000 }), (ids) =>
              ids.length < 1_000 ? Effect.succeed(total + ids.length) : loop(total + ids.length))
          return loop(0)
        })
        : Effect.fail(new InvalidOptions({ message: `invalid queue name '${queue}' (${QUEUE_NAME_RULE})` })),
    pause: (queue) => setPaused(queue, true),
    resume: (queue) => setPaused(queue, false),
    cancel: (ref) =>
      Effect.tap(store.cancel(ref), (outcome) =>
        outcome._tag === "Cancelled" ? Effect.sync(() => jobsCancelled.unsafeUpdate(1, queueLabels(ref.queue))) : Effect.void)
  } satisfies RrqClientShape
})

export const layer: Layer.Layer<RrqClient, never, JobStore | RrqSettings> = Layer.effect(RrqClient, make)
