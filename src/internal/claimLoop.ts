/**
 * The claim loop: claims the free slots in one batch per queue that may have work (for short
 * jobs the next batch while this one runs), and otherwise sleeps until a wake-up, the next
 * known run-at, or the jittered safety-net poll. The pickup path (wake-up → claim → start) is
 * tuned to the fiber hop (docs/performance.md, pickup). One closure: the claim round, the idle
 * wait and the loop share the claim in flight and the idle backoff.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Schedule from "effect/Schedule"
import type { JobStoreError } from "../Errors.js"
import type { JobStoreShape } from "../JobStore.js"
import type { Settings } from "../Settings.js"
import type { ClaimPolicy } from "./claimPolicy.js"
import { seconds } from "./errorText.js"
import { type JobRunner, jobKey } from "./jobRunner.js"
import type { LeaseBook } from "./leaseBook.js"
import { recordClaim } from "./metrics/instruments.js"
import type { Outage } from "./outage.js"
import { QueueBoard, Rotation } from "./queueBoard.js"
import { Signal } from "./Signal.js"
import { errorBackoff, jittered } from "./timing.js"

/** The most jobs one claim call takes (the claim script caps it too). */
export const MAX_CLAIM = 1_000

interface Round {
  readonly claimed: number
}

export interface ClaimLoopContext<R> {
  readonly workerId: string
  readonly queues: ReadonlyArray<string>
  readonly settings: Settings
  readonly store: JobStoreShape
  /** Stop once no job is ready or running. */
  readonly burst: boolean
  /** This round's queue order (internal/queueOrder.ts). */
  readonly nextOrder: () => ReadonlyArray<string>
  readonly policy: ClaimPolicy
  readonly leases: LeaseBook
  readonly runner: JobRunner<R>
  readonly counts: { claimed: number; lost: number }
  readonly outage: Outage
  /** Monotonic milliseconds. */
  readonly now: () => number
  /** Forks into the worker's scope. */
  readonly fork: <A, E>(effect: Effect.Effect<A, E, R>) => Fiber.RuntimeFiber<A, E>
}

export interface ClaimLoop {
  /** Runs until shutdown (or, in burst mode, until the work runs out). */
  readonly loop: Effect.Effect<void>
  /** A wake-up message: work in `queue` is due in `dueInMs`. */
  readonly heard: (queue: string, dueInMs: number) => void
  /** A claim still in flight (sent ahead, or by an idle wait): shutdown waits for it. */
  readonly inFlight: () => Fiber.RuntimeFiber<unknown, unknown> | undefined
}

export const make = <R>(ctx: ClaimLoopContext<R>): ClaimLoop => {
  const { counts, leases, nextOrder, outage, policy, queues, runner, settings, store } = ctx
  const { buffered, running } = runner
  const id = ctx.workerId
  const monotonicMs = ctx.now
  const runFork = ctx.fork
  const startBuffered = () => runner.startBuffered()

  let redisFailures = 0
  const onStoreError = (what: string, e: unknown) =>
    Effect.gen(function*() {
      redisFailures++
      yield* outage.report("claim", what, e)
      yield* Effect.sleep(errorBackoff(redisFailures))
    })

  // What the worker knows of each queue: a round claims only the queues that may have a job
  // due (at start every queue; then those a wake-up or a claim reply says), plus, when the
  // poll timer fired, the next one in turn. Times are local and monotonic; run-ats come in as
  // durations on the store's clock (internal/queueBoard.ts).
  const board = new QueueBoard(queues, settings.pollDelayMs)
  const inTurn = new Rotation(queues)
  // Fired when a wake-up moved a queue's time earlier (for work due now: the pickup path).
  const wakeUp = new Signal()

  // The claim is uninterruptible: jobs Redis handed over must reach `buffered`, which
  // shutdown requeues. `sweep`: the safety-net poll also claims the next queue in turn, so
  // work that came without a wake-up is found (every queue within queues × the poll delay).
  const claimRound = (want: number, sweep = false): Effect.Effect<Round, JobStoreError> =>
    Effect.gen(function*() {
      let free = want
      let claimed = 0
      const extra = sweep ? inTurn.take(1)[0] : undefined
      for (const queue of nextOrder()) {
        if (free <= 0 || runner.stopping) break
        if (queue !== extra && !board.isDue(queue, monotonicMs())) continue
        board.sent(queue, monotonicMs())
        const count = Math.min(free, MAX_CLAIM)
        const sentAt = monotonicMs()
        const result = yield* store.claim(queue, { count, workerId: id, leaseMs: settings.leaseMs }).pipe(
          Effect.tapError(() => Effect.sync(() => board.failed(queue, monotonicMs())))
        )
        board.replied(queue, result, monotonicMs())
        counts.claimed += result.jobs.length
        if (result.jobs.length > 0) recordClaim(queue, result)
        leases.granted(result.jobs, sentAt)
        if (result.jobs.length > 0 && leases.tooOld(result.jobs[0]!, monotonicMs())) {
          // By now another worker may have recovered them: not run here, handed back.
          runner.giveBack(result.jobs, `the claim reply came ${seconds(monotonicMs() - sentAt)} after the claim`)
          continue
        }
        for (const job of result.jobs) {
          // cancelled while the reply was on its way: Redis has already let it go
          if (leases.takeCancelled(jobKey(job.queue, job.id))) counts.lost++
          else buffered.push(job)
        }
        free -= result.jobs.length
        claimed += result.jobs.length
      }
      return { claimed }
    }).pipe(Effect.uninterruptible)

  // A claim sent ahead (short jobs) while the worker runs the last batch; shutdown waits for it.
  let claiming: Fiber.RuntimeFiber<Round, JobStoreError> | undefined

  // The claim an idle worker sends the moment it wakes; it starts what it gets itself.
  const claimNow = (free: number, sweep = false) => Effect.tap(claimRound(free, sweep), () => Effect.sync(startBuffered))

  /** Free slots when the worker may claim now, else 0 (stopping, or too few slots to bother). */
  const claimable = () => {
    return runner.stopping ? 0 : policy.claimable(running.size + buffered.length)
  }

  // An idle wait: a wake-up claims in the fiber that waited for it (as `claiming`, which the
  // loop joins when it resumes) and resumes the loop once the jobs it got have started; the
  // timer's claim is the safety-net poll when `sweep` (wakeOrTimer, below).
  const idleWait = (woken: Effect.Effect<void>, ms: number, sweep: boolean) =>
    wakeOrTimer(runFork, woken, ms, (fiber, resume) => {
      const free = claimable()
      if (free === 0) return resume
      claiming = fiber as Fiber.RuntimeFiber<Round, JobStoreError>
      return Effect.ensuring(claimNow(free), resume)
    }, () => {
      const free = claimable()
      if (free > 0) claiming = runFork(claimNow(free, sweep))
    })

  let idleRounds = 0
  let sweepNext = false
  const loop = Effect.gen(function*() {
    while (!runner.stopping) {
      const slot = runner.slotFreed.wait
      // taken before the round: a wake-up heard during it ends the wait below at once
      const woken = wakeUp.wait
      let round: Either.Either<Round, JobStoreError>
      if (claiming !== undefined) {
        round = yield* Effect.either(Fiber.join(claiming))
        claiming = undefined
      } else {
        const free = claimable()
        if (free === 0) {
          yield* slot
          continue
        }
        round = yield* Effect.either(claimRound(free, sweepNext))
        sweepNext = false
      }
      if (Either.isLeft(round)) {
        startBuffered()
        yield* onStoreError("claim", round.left)
        continue
      }
      redisFailures = 0
      yield* outage.over
      if (round.right.claimed > 0) {
        idleRounds = 0
        // Short jobs: ask for the next batch before running this one, so Redis claims it
        // while the worker runs these (instead of each waiting for the other).
        const free = claimable()
        if (policy.claimsAhead && free > 0) claiming = yield* Effect.fork(claimRound(free))
        startBuffered()
        continue
      }
      // Run-ats are compared on the store's clock, as durations (the board): never with this
      // machine's clock, which may be off (a clock 60 s ahead spun the loop at 11k claims/s).
      const now = monotonicMs()
      const untilDue = board.nextDue() - now
      if (untilDue <= 0) continue
      const busy = running.size > 0 || buffered.length > 0
      if (ctx.burst && !busy) return
      const pollMs = idlePollMs(settings, idleRounds++)
      const sweep = pollMs < untilDue
      // at least 1 ms: a job due later than now (even by a fraction) must not spin the loop
      const waitMs = Math.max(1, Math.ceil(Math.min(pollMs, untilDue)))
      // A freed slot brings no new work, except that a burst worker may then be done.
      if (ctx.burst && busy) {
        yield* Effect.raceAll([woken, Effect.sleep(waitMs), slot])
        sweepNext = sweep
      } else {
        yield* idleWait(woken, waitMs, sweep)
      }
    }
  })

  return {
    loop,
    heard: (queue, dueInMs) => {
      if (board.heard(queue, dueInMs, monotonicMs())) wakeUp.fire()
    },
    inFlight: () => claiming
  }
}

/**
 * Enqueues, retries and recoveries publish wake-ups, so the poll is only a safety net: while a
 * worker stays idle it doubles, up to 1 s, and claims one queue in turn (an idle worker costs
 * ~4 Redis commands/s with 1 queue, ~6 with 500: docs/reliability.md).
 */
const idlePollMs = (settings: Settings, idleRounds: number): number =>
  jittered(
    Math.min(settings.pollDelayMs * 2 ** Math.min(idleRounds, 10), Math.max(settings.pollDelayMs, 1_000)),
    settings.pollJitter
  )

/**
 * Waits for `woken` or `ms`, whichever comes first. On a wake-up, `onWake` runs in the very
 * fiber that waited for it and gets the effect that resumes the waiter (and stops the timer),
 * to run once its claim's jobs have started: going back through the loop first cost ~0.3 ms
 * of pickup, a fiber hop ~0.05 ms, the loop's and the timer's work while the claim was out
 * ~0.1 ms, starting the jobs from the loop after the reply ~0.15 ms (docs/performance.md,
 * pickup). On the timer, `onTimer` runs and the waiter resumes at once.
 */
const wakeOrTimer = <R>(
  fork: ClaimLoopContext<R>["fork"],
  woken: Effect.Effect<void>,
  ms: number,
  onWake: (self: Fiber.RuntimeFiber<unknown, unknown>, resume: Effect.Effect<void>) => Effect.Effect<unknown, unknown>,
  onTimer: () => void
): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let settled = false
    let timer: Fiber.RuntimeFiber<void> | undefined
    const waker = fork(Effect.zipRight(
      woken,
      Effect.withFiberRuntime<unknown, unknown>((fiber) => {
        settled = true
        return onWake(fiber, Effect.sync(() => {
          timer?.unsafeInterruptAsFork(FiberId.none)
          resume(Effect.void)
        }))
      })
    ))
    if (settled) return // the wake-up had come already
    timer = fork(Effect.sleep(ms))
    timer.addObserver(() => {
      if (settled) return
      settled = true
      waker.unsafeInterruptAsFork(FiberId.none)
      onTimer()
      resume(Effect.void)
    })
    return Effect.sync(() => {
      settled = true
      waker.unsafeInterruptAsFork(FiberId.none)
      timer?.unsafeInterruptAsFork(FiberId.none)
    })
  })

/** The claim loop, restarted 1 s after a defect (logged); interruption ends it. */
export const supervised = <R>(loop: Effect.Effect<void, never, R>): Effect.Effect<void, never, R> =>
  loop.pipe(
    Effect.sandbox,
    Effect.tapError((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("Claim loop crashed; restarting", cause)
    ),
    Effect.retry({ schedule: Schedule.spaced(1_000), while: (cause) => !Cause.isInterruptedOnly(cause) }),
    Effect.unsandbox
  )
