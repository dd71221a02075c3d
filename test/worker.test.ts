/**
 * The worker runtime on both stores: every outcome path, RRQ's scenarios,
 * lease loss, shutdown, wake-up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Exit, Fiber, Layer, Option, Ref, Schema, type Scope } from "effect"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import { FailJob, InvalidOptions, RetryJob } from "../src/Errors.js"
import * as Handler from "../src/Handler.js"
import * as JobDefinition from "../src/JobDefinition.js"
import { JobStore } from "../src/JobStore.js"
import * as Store from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import * as Worker from "../src/Worker.js"
import { redisStoreLayer } from "./support/index.js"

const fast: Settings.SettingsInput = {
  retryBaseMs: 20,
  retryMaxMs: 100,
  pollDelayMs: 20,
  recoverIntervalMs: 50,
  shutdownGraceMs: 2_000
}

const stores = {
  memory: (input: Settings.SettingsInput) =>
    Store.layerMemory.pipe(Layer.provideMerge(Settings.layer({ ...fast, ...input }))),
  redis: (input: Settings.SettingsInput) => redisStoreLayer({ ...fast, ...input })
}

const job = (ref: { queue: string; id: string }) =>
  Effect.flatMap(JobStore, (s) => s.getJob(ref)).pipe(Effect.map(Option.getOrThrow))

const waitDone = (ref: { queue: string; id: string }) =>
  Effect.flatMap(RrqClient, (c) => c.waitForResult(ref, { timeout: "10 seconds" })).pipe(Effect.either)

const Add = JobDefinition.make("add", {
  params: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  result: Schema.Number
})

for (const [storeName, makeStore] of Object.entries(stores)) {
  describe(`Worker on ${storeName}`, () => {
    const test = <A, E>(
      title: string,
      body: Effect.Effect<A, E, JobStore | RrqClient | Settings.RrqSettings | Scope.Scope>,
      input: Settings.SettingsInput = {},
      timeout = 20_000
    ) =>
      it.live(
        title,
        () =>
          Effect.scoped(body).pipe(
            Effect.provide(Client.layer.pipe(Layer.provideMerge(makeStore(input)))),
            Effect.asVoid
          ),
        timeout
      )

    test("RRQ scenarios: success, retry, exhaustion, unknown function, timeout, a second queue", Effect.gen(function*() {
      const c = yield* RrqClient
      let flaky = 0
      yield* Worker.make({
        queues: ["default", "second"],
        handlers: {
          add: Handler.forJob(Add, ({ a, b }) => a + b),
          flaky: () => {
            if (flaky++ === 0) throw new Error("first attempt fails")
            return "ok"
          },
          always: () => Effect.fail(new Error("nope")),
          slow: Handler.make({ timeout: "1 second" }, () => Effect.never),
          other: async () => "from the second queue"
        }
      })
      const ok = yield* c.enqueue(Add, { a: 2, b: 3 })
      const retried = yield* c.enqueue("flaky", {})
      const exhausted = yield* c.enqueue("always", {}, { maxRetries: 2 })
      const unknown = yield* c.enqueue("missing", {})
      const timedOut = yield* c.enqueue("slow", {})
      const second = yield* c.enqueue("other", {}, { queue: "second" })

      expect(yield* c.waitForResult(ok, { timeout: "5 seconds" })).toBe(5)
      expect(yield* c.waitForResult(retried, { timeout: "5 seconds" })).toBe("ok")
      expect(yield* job(retried)).toMatchObject({ status: "COMPLETED", currentRetries: 1 })
      expect(yield* c.waitForResult(second, { timeout: "5 seconds" })).toBe("from the second queue")

      yield* waitDone(exhausted)
      expect(yield* job(exhausted)).toMatchObject({ status: "FAILED", currentRetries: 2 })
      expect((yield* job(exhausted)).lastError).toContain("nope")
      yield* waitDone(unknown)
      expect(yield* job(unknown)).toMatchObject({
        status: "FAILED",
        currentRetries: 1,
        lastError: "No handler registered for function 'missing'"
      })
      yield* waitDone(timedOut)
      expect(yield* job(timedOut)).toMatchObject({ status: "FAILED", lastError: "Job timed out after 1s." })
      const dlq = yield* Effect.flatMap(JobStore, (s) => s.listJobs("default", "dlq", { offset: 0, limit: 10 }))
      expect(dlq.map((j) => j.id).sort()).toEqual([exhausted.id, unknown.id, timedOut.id].sort())
    }))

    test("RetryJob, FailJob, invalid params, and handlers returning Effects, Promises or values", Effect.gen(function*() {
      const c = yield* RrqClient
      const attempts = yield* Ref.make<Array<number>>([])
      yield* Worker.make({
        handlers: {
          retryLater: (_: unknown, ctx: Handler.JobContext) =>
            Effect.gen(function*() {
              yield* Ref.update(attempts, (a) => [...a, ctx.attempt])
              if (ctx.attempt === 1) return yield* new RetryJob({ delay: 150, reason: "not yet" })
              return ctx.attempt
            }),
          failNow: () => Effect.fail(new FailJob({ reason: "permanent" })),
          typed: Handler.make({ params: Schema.Struct({ n: Schema.Number }) }, ({ n }) => n * 2),
          plain: () => ({ plain: true }),
          promise: () => Promise.resolve([1, 2])
        }
      })
      const r = yield* c.enqueue("retryLater", {})
      const started = Date.now()
      expect(yield* c.waitForResult(r, { timeout: "5 seconds" })).toBe(2)
      expect(Date.now() - started).toBeGreaterThanOrEqual(140)
      expect(yield* Ref.get(attempts)).toEqual([1, 2])
      expect(yield* job(r)).toMatchObject({ currentRetries: 1, lastError: "not yet" })

      const f = yield* c.enqueue("failNow", {}, { maxRetries: 5 })
      expect(yield* Effect.flip(c.waitForResult(f))).toMatchObject({ _tag: "JobFailed", error: "permanent" })
      expect((yield* job(f)).currentRetries).toBe(1)

      const bad = yield* c.enqueue("typed", { n: "two" })
      yield* waitDone(bad)
      expect(yield* job(bad)).toMatchObject({ status: "FAILED", currentRetries: 1 })
      expect((yield* job(bad)).lastError).toContain("Invalid params for 'typed'")
      expect(yield* c.waitForResult(yield* c.enqueue("typed", { n: 21 }))).toBe(42)
      expect(yield* c.waitForResult(yield* c.enqueue("plain", {}))).toEqual({ plain: true })
      expect(yield* c.waitForResult(yield* c.enqueue("promise", {}))).toEqual([1, 2])
    }))

    test("FailJob and RetryJob are recognised by _tag (a second copy of rrq), thrown or failed as plain objects", Effect.gen(function*() {
      const c = yield* RrqClient
      yield* Worker.make({
        handlers: {
          thrown: () => {
            throw { _tag: "FailJob", reason: "thrown plain" }
          },
          failed: () => Effect.fail({ _tag: "FailJob", reason: "failed plain" }),
          rejected: () => Promise.reject({ _tag: "FailJob", reason: "rejected plain" }),
          later: (_: unknown, ctx: Handler.JobContext) =>
            ctx.attempt === 1 ? Effect.fail({ _tag: "RetryJob", delay: 150, reason: "not yet" }) : Effect.succeed(ctx.attempt)
        }
      })
      for (const [fn, reason] of [["thrown", "thrown plain"], ["failed", "failed plain"], ["rejected", "rejected plain"]]) {
        const ref = yield* c.enqueue(fn!, {}, { maxRetries: 5 })
        expect(yield* Effect.flip(c.waitForResult(ref, { timeout: "5s" }))).toMatchObject({ _tag: "JobFailed", error: reason })
        expect(yield* job(ref)).toMatchObject({ status: "FAILED", currentRetries: 1, lastError: reason })
      }
      const started = Date.now()
      const later = yield* c.enqueue("later", {})
      expect(yield* c.waitForResult(later, { timeout: "5s" })).toBe(2)
      expect(Date.now() - started).toBeGreaterThanOrEqual(140)
      expect(yield* job(later)).toMatchObject({ currentRetries: 1, lastError: "not yet" })
    }))

    test("unknownFunction 'retry': retried with backoff, dead-lettered when the attempts run out", Effect.gen(function*() {
      const c = yield* RrqClient
      yield* Worker.make({ handlers: {} })
      const ref = yield* c.enqueue("newer", {}, { maxRetries: 3 })
      yield* waitDone(ref)
      expect(yield* job(ref)).toMatchObject({
        status: "FAILED",
        currentRetries: 3,
        lastError: "No handler registered for function 'newer'"
      })
    }), { unknownFunction: "retry" })

    test("unknownFunction 'retry': a rolling deploy, the job waits for a worker that knows it", Effect.gen(function*() {
      const c = yield* RrqClient
      const store = yield* JobStore
      yield* Worker.make({ handlers: {} })
      const ref = yield* c.enqueue("newer", {}, { maxRetries: 50 })
      // the old worker has tried it (and put it back) at least once
      yield* job(ref).pipe(
        Effect.repeat({ until: (j) => j.currentRetries >= 1 }),
        Effect.timeout("5 seconds")
      )
      expect((yield* job(ref)).status).not.toBe("FAILED")
      yield* Worker.make({ handlers: { newer: () => "ran on the new worker" } })
      expect(yield* c.waitForResult(ref, { timeout: "10s" })).toBe("ran on the new worker")
      expect((yield* store.stats("default")).dlq).toBe(0)
    }), { unknownFunction: "retry" })

    test("unknownFunction 'fail' (the default): dead-lettered at once", Effect.gen(function*() {
      const c = yield* RrqClient
      expect((yield* Settings.RrqSettings).unknownFunction).toBe("fail")
      yield* Worker.make({ handlers: {} })
      const ref = yield* c.enqueue("newer", {}, { maxRetries: 5 })
      yield* waitDone(ref)
      expect(yield* job(ref)).toMatchObject({
        status: "FAILED",
        currentRetries: 1,
        lastError: "No handler registered for function 'newer'"
      })
    }))

    test("a deferred job runs only after its time", Effect.gen(function*() {
      const c = yield* RrqClient
      const ran = yield* Deferred.make<number>()
      yield* Worker.make({ handlers: { later: () => Deferred.succeed(ran, Date.now()) } })
      const at = Date.now() + 400
      yield* c.enqueue("later", {}, { deferUntil: at })
      expect(yield* Deferred.await(ran)).toBeGreaterThanOrEqual(at)
    }))

    test("a unique-key duplicate runs only after the holder finished", Effect.gen(function*() {
      const c = yield* RrqClient
      const log: Array<string> = []
      yield* Worker.make({
        concurrency: 5,
        handlers: {
          step: ({ n }: { n: number }) =>
            Effect.gen(function*() {
              log.push(`start ${n}`)
              yield* Effect.sleep(150)
              log.push(`end ${n}`)
            })
        }
      })
      const first = yield* c.enqueue("step", { n: 1 }, { uniqueKey: "account-1" })
      const second = yield* c.enqueue("step", { n: 2 }, { uniqueKey: "account-1" })
      yield* c.waitForResult(first)
      yield* c.waitForResult(second)
      expect(log).toEqual(["start 1", "end 1", "start 2", "end 2"])
    }))

    test("an expired lease is recovered and the job runs again; the lost worker's completion is rejected", Effect.gen(function*() {
      const c = yield* RrqClient
      const store = yield* JobStore
      const ref = yield* c.enqueue("work", {})
      // a worker that claimed the job and died: its lease is never renewed
      const dead = (yield* store.claim("default", { count: 1, workerId: "dead", leaseMs: 100 })).jobs[0]!
      yield* Worker.make({ handlers: { work: (_: unknown, ctx: Handler.JobContext) => ctx.workerId } })
      const result = yield* c.waitForResult(ref, { timeout: "5 seconds" })
      expect(result).not.toBe("dead")
      expect(yield* job(ref)).toMatchObject({ status: "COMPLETED", stalls: 1, currentRetries: 0 })
      expect(yield* store.complete("default", [{ id: ref.id, token: dead.leaseToken, result: "\"late\"" }]))
        .toEqual([false])
      expect(yield* c.waitForResult(ref)).toBe(result)
    }))

    test("shutdown lets short jobs finish and requeues the rest without counting an attempt", Effect.gen(function*() {
      const c = yield* RrqClient
      const started = yield* Deferred.make<void>()
      const quick = yield* c.enqueue("quick", {})
      const stuck = yield* c.enqueue("stuck", {})
      const interrupted = yield* Ref.make(false)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Worker.make({
          handlers: {
            quick: () => Effect.sleep(100).pipe(Effect.as("done")),
            stuck: () =>
              Deferred.succeed(started, undefined).pipe(
                Effect.zipRight(Effect.never),
                Effect.onInterrupt(() => Ref.set(interrupted, true))
              )
          }
        })
        yield* Deferred.await(started)
      }))
      expect(yield* Ref.get(interrupted)).toBe(true)
      expect(yield* job(quick)).toMatchObject({ status: "COMPLETED" })
      expect(yield* job(stuck)).toMatchObject({ status: "PENDING", currentRetries: 0, stalls: 0 })
      expect((yield* Effect.flatMap(JobStore, (s) => s.stats("default"))).active).toBe(0)
    }), { shutdownGraceMs: 300 })

    test("Promise handlers: a timeout ends the attempt at once, aborts the signal and ignores the late result", Effect.gen(function*() {
      const c = yield* RrqClient
      const aborted = yield* Deferred.make<unknown>()
      let lateResults = 0
      yield* Worker.make({
        handlers: {
          late: Handler.make({ timeout: "300 millis" }, (_: unknown, ctx) => {
            ctx.signal.addEventListener("abort", () => Deferred.unsafeDone(aborted, Exit.succeed(ctx.signal.reason)))
            return new Promise((resolve) => setTimeout(() => resolve(lateResults++), 700))
          }),
          rejects: () => Promise.reject(new FailJob({ reason: "rejected" })),
          throws: () => {
            throw new FailJob({ reason: "thrown" })
          }
        }
      })
      const late = yield* c.enqueue("late", {})
      const rejects = yield* c.enqueue("rejects", {}, { maxRetries: 5 })
      const throws = yield* c.enqueue("throws", {}, { maxRetries: 5 })
      expect(yield* Deferred.await(aborted).pipe(Effect.timeout("5 seconds"))).toBe("timeout")
      yield* waitDone(late)
      expect(yield* job(late)).toMatchObject({ status: "FAILED", lastError: "Job timed out after 0.3s." })
      yield* waitDone(rejects)
      expect(yield* job(rejects)).toMatchObject({ status: "FAILED", lastError: "rejected", currentRetries: 1 })
      yield* waitDone(throws)
      expect(yield* job(throws)).toMatchObject({ status: "FAILED", lastError: "thrown", currentRetries: 1 })
      yield* Effect.sleep(600) // the late Promise resolves now: nothing changes
      expect(lateResults).toBe(1)
      expect(yield* job(late)).toMatchObject({ status: "FAILED", lastError: "Job timed out after 0.3s." })
    }))

    test("shutdown requeues a Promise handler that outlives the grace", Effect.gen(function*() {
      const c = yield* RrqClient
      const started = yield* Deferred.make<void>()
      const stuck = yield* c.enqueue("stuck", {})
      yield* Effect.scoped(Worker.make({
        handlers: {
          stuck: () => {
            Deferred.unsafeDone(started, Exit.void)
            return new Promise(() => {})
          }
        }
      }).pipe(Effect.zipRight(Deferred.await(started))))
      expect(yield* job(stuck)).toMatchObject({ status: "PENDING", currentRetries: 0 })
      expect((yield* Effect.flatMap(JobStore, (s) => s.stats("default"))).active).toBe(0)
    }), { shutdownGraceMs: 200 })

    test("interrupting a running worker (a signal) requeues its running jobs after the grace", Effect.gen(function*() {
      const c = yield* RrqClient
      const started = yield* Deferred.make<void>()
      const stuck = yield* c.enqueue("stuck", {})
      const fiber = yield* Effect.fork(Worker.run({
        handlers: { stuck: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)) }
      }))
      yield* Deferred.await(started)
      const stoppedAt = Date.now()
      yield* Fiber.interrupt(fiber)
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(250)
      expect(yield* job(stuck)).toMatchObject({ status: "PENDING", currentRetries: 0 })
      expect((yield* Effect.flatMap(JobStore, (s) => s.stats("default"))).active).toBe(0)
    }), { shutdownGraceMs: 300 })

    test("an idle worker picks up a new job without waiting for the poll delay", Effect.gen(function*() {
      const c = yield* RrqClient
      const ran = yield* Deferred.make<number>()
      yield* Worker.make({ handlers: { ping: () => Deferred.succeed(ran, Date.now()) } })
      yield* Effect.sleep(200) // the worker is idle now, in a 60 s poll wait
      const enqueuedAt = Date.now()
      yield* c.enqueue("ping", {})
      const startedAt = yield* Deferred.await(ran).pipe(Effect.timeout("5 seconds"))
      expect(startedAt - enqueuedAt).toBeLessThan(1_000)
    }), { pollDelayMs: 60_000 })

    test("cancelling a running job interrupts its handler", Effect.gen(function*() {
      const c = yield* RrqClient
      const started = yield* Deferred.make<void>()
      const aborted = yield* Deferred.make<void>()
      yield* Worker.make({
        handlers: {
          long: (_: unknown, ctx: Handler.JobContext) =>
            Effect.gen(function*() {
              ctx.signal.addEventListener("abort", () => Deferred.unsafeDone(aborted, Effect.void))
              yield* Deferred.succeed(started, undefined)
              return yield* Effect.never
            })
        }
      })
      const ref = yield* c.enqueue("long", {})
      yield* Deferred.await(started)
      expect(yield* c.cancel(ref)).toEqual({ _tag: "Cancelled", wasRunning: true })
      yield* Deferred.await(aborted).pipe(Effect.timeout("5 seconds"))
      expect((yield* job(ref)).status).toBe("CANCELLED")
    }))

    test("burst mode stops when no job is ready or running, and never exceeds its concurrency", Effect.gen(function*() {
      const c = yield* RrqClient
      let now = 0
      let peak = 0
      yield* c.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ job: "count", params: { i } })))
      const counts = yield* Worker.run({
        burst: true,
        concurrency: 4,
        handlers: {
          count: () =>
            Effect.gen(function*() {
              now++
              peak = Math.max(peak, now)
              yield* Effect.sleep(5)
              now--
            })
        }
      })
      expect(counts).toMatchObject({ claimed: 40, completed: 40, failed: 0 })
      expect(peak).toBeLessThanOrEqual(4)
      expect(peak).toBeGreaterThan(1)
      expect(yield* Effect.flatMap(JobStore, (s) => s.stats("default"))).toMatchObject({ ready: 0, active: 0, completedTotal: 40 })
    }))

    test("the heartbeat shows the worker while it runs", Effect.gen(function*() {
      const store = yield* JobStore
      const w = yield* Effect.scoped(Effect.gen(function*() {
        const w = yield* Worker.make({ handlers: {}, queues: ["a", "b,3"], concurrency: 7 })
        yield* Effect.sleep(100)
        const live = yield* store.workers
        expect(live).toHaveLength(1)
        expect(live[0]).toMatchObject({ id: w.id, queues: ["a", "b"], concurrency: 7, status: "running", pid: process.pid })
        return w
      }))
      expect((yield* store.workers).map((i) => i.id)).not.toContain(w.id)
    }))
  })
}

describe("Worker options", () => {
  it("parses queue weights (name,weight); a name may hold colons and unicode, never braces, commas or whitespace", () => {
    expect(Either.getOrThrow(Worker.parseQueue("emails"))).toEqual({ name: "emails", weight: 1 })
    expect(Either.getOrThrow(Worker.parseQueue("emails,3"))).toEqual({ name: "emails", weight: 3 })
    expect(Either.getOrThrow(Worker.parseQueue("tenant:42"))).toEqual({ name: "tenant:42", weight: 1 })
    expect(Either.getOrThrow(Worker.parseQueue("tenant:42,2.5"))).toEqual({ name: "tenant:42", weight: 2.5 })
    expect(Either.getOrThrow(Worker.parseQueue("courriel-été:✉"))).toEqual({ name: "courriel-été:✉", weight: 1 })
    for (const spec of ["emails,0", "emails,x", ",3", "", "a b", "a{b}", "{a}", "a,b,3", "tab\tq"]) {
      const parsed = Worker.parseQueue(spec)
      expect(Either.isLeft(parsed), spec).toBe(true)
      if (Either.isLeft(parsed)) expect(parsed.left).toBeInstanceOf(InvalidOptions)
    }
    expect(Either.flip(Worker.parseQueue("emails,x"))).toEqual(
      Either.right(new InvalidOptions({ message: "invalid queue weight in 'emails,x' (use name,weight with a positive weight)" }))
    )
  })

  it.live("make, run, pool and layer fail with InvalidOptions on bad options", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<readonly [Worker.WorkerOptions, string]> = [
        [{ handlers: {}, concurrency: 0 }, "concurrency must be an integer ≥ 1, got 0"],
        [{ handlers: {}, concurrency: 1.5 }, "concurrency"],
        [{ handlers: {}, queues: ["emails,x"] }, "invalid queue weight in 'emails,x'"],
        [{ handlers: {}, queues: [] }, "at least one queue"],
        [{ handlers: { x: 5 as never } }, "handler 'x' is neither a function nor Handler.make(...)"]
      ]
      for (const [options, message] of bad) {
        for (const e of [
          yield* Effect.flip(Effect.scoped(Worker.make(options))),
          yield* Effect.flip(Worker.run(options)),
          yield* Effect.flip(Effect.scoped(Worker.pool(options, 2))),
          yield* Effect.flip(Effect.scoped(Layer.build(Worker.layer(options))))
        ]) {
          expect(e).toBeInstanceOf(InvalidOptions)
          expect(e.message).toContain(message)
        }
      }
      const size = yield* Effect.flip(Effect.scoped(Worker.pool({ handlers: {} }, 0)))
      expect(size).toBeInstanceOf(InvalidOptions)
    }).pipe(Effect.provide(Store.layerMemory.pipe(Layer.provideMerge(Settings.layer(fast))))))
})
