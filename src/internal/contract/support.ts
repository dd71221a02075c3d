/**
 * What every group of the JobStore contract suite (`rrq/testing`) shares: the
 * services a store driver provides, the way a case is registered and run, and the
 * helpers the cases are written with.
 */
import { it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { RrqClient } from "../../Client.js"
import * as Client from "../../Client.js"
import type { JobRef } from "../../Job.js"
import * as JobDefinition from "../../JobDefinition.js"
import { JobStore } from "../../JobStore.js"
import type { RrqSettings } from "../../Settings.js"

/** What the suite needs to simulate damage a store cannot cause by itself. */
export interface StoreBackdoorShape {
  /** Replaces a job's record: a field map, a value of the wrong type, or nothing. */
  readonly setRecord: (
    queue: string,
    id: string,
    record: Record<string, string> | "not-a-hash" | undefined
  ) => Effect.Effect<void>
  /** Adds a raw pending entry. */
  readonly addPending: (queue: string, id: string, runAt: number) => Effect.Effect<void>
}

export class StoreBackdoor extends Context.Tag("rrq/testing/StoreBackdoor")<StoreBackdoor, StoreBackdoorShape>() {}

export type ContractServices = JobStore | RrqSettings | StoreBackdoor

/**
 * Provided beside the store by a driver whose store reads the time only from
 * Effect's `Clock` (the memory store): its cases that wait only through `sleep`
 * then run under TestClock, and `sleep` moves the clock instead of waiting.
 */
export class ClockDriven extends Context.Tag("rrq/testing/ClockDriven")<ClockDriven, true>() {}

/** Set while a case runs under TestClock. */
class OnTestClock extends Context.Tag("rrq/testing/OnTestClock")<OnTestClock, true>() {}

/** Lets `ms` pass: on the TestClock where the case runs under it, else for real. */
export const sleep = (ms: number) =>
  Effect.flatMap(
    Effect.serviceOption(OnTestClock),
    (virtual) => Option.isSome(virtual) ? TestClock.adjust(ms) : Effect.sleep(ms)
  )

export type CaseServices = ContractServices | RrqClient

export type Case = <A, E>(title: string, body: Effect.Effect<A, E, CaseServices>) => void

/** How a group registers its cases. */
export interface Contract {
  /** A case on real time. */
  readonly test: Case
  /**
   * A case that lets time pass only through `sleep` (no fiber of its own waits on
   * the clock): under TestClock where the driver provides `ClockDriven`.
   */
  readonly timed: Case
}

/** `makeLayer` is called once per case and must return an isolated store. */
export const make = <E>(makeLayer: () => Layer.Layer<ContractServices, E>): Contract => {
  const register = (mayUseTestClock: boolean): Case => (title, body) =>
    it.live(title, () =>
      Effect.scoped(Effect.gen(function*() {
        const services = yield* Layer.build(Client.layer.pipe(Layer.provideMerge(makeLayer())))
        const run = Effect.provide(body, services)
        if (!mayUseTestClock || Option.isNone(Context.getOption(services, ClockDriven))) return yield* run
        // the clock starts at the wall clock's time, so a case's Date.now() still agrees with the store
        yield* Effect.provide(
          Effect.zipRight(TestClock.setTime(Date.now()), Effect.provideService(run, OnTestClock, true)),
          TestContext.TestContext
        )
      })).pipe(Effect.asVoid))
  return { test: register(false), timed: register(true) }
}

export const W = { workerId: "w1", leaseMs: 30_000 }
export const Q = "default"

export const client = RrqClient

export const enqueue = (
  fn: string,
  params: unknown = {},
  options: Parameters<Client.RrqClientShape["enqueue"]>[2] = {}
) => Effect.flatMap(client, (c) => c.enqueue(fn, params, options))

export const claimOne = (queue = Q) =>
  Effect.flatMap(JobStore, (s) => s.claim(queue, { ...W, count: 1 })).pipe(
    Effect.map((r) => r.jobs[0])
  )

export const job = (ref: JobRef) =>
  Effect.flatMap(JobStore, (s) => s.getJob(ref)).pipe(Effect.map(Option.getOrThrow))

export const Add = JobDefinition.make("add", {
  params: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  result: Schema.Number
})
