/**
 * One duration input for every public option (`Settings.DurationInput`): the
 * README's short forms type-check and run, and a bad value names its option.
 * The type-level cases are checked by `tsc` (npm test), the rest at run time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import { InvalidOptions } from "../src/Errors.js"
import * as Handler from "../src/Handler.js"
import type { EnqueueOptions } from "../src/Job.js"
import * as JobDefinition from "../src/JobDefinition.js"
import * as Store from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"

// --- types: what the README writes compiles, a typo does not ---------------------------

const enqueueOptions: EnqueueOptions = { deferBy: "2s", timeout: "30s", resultTtl: "1d" }
const effectForms: EnqueueOptions = { deferBy: "2 seconds", timeout: Duration.minutes(5), resultTtl: 0 }
const waitOptions: Client.WaitOptions = { timeout: "5s" }
const handlerOptions: Handler.HandlerOptions = { timeout: "30s", retryOnTimeout: true }
const settingsInput: Settings.SettingsInput = { leaseMs: "2s", retryBaseMs: "500ms", dlqTtlMs: "7d", shutdownGraceMs: 10_000 }
// @ts-expect-error: not a duration
const typo: EnqueueOptions = { deferBy: "2 parsecs" }
// @ts-expect-error: a unit rrq does not know
const week: Handler.HandlerOptions = { timeout: "1w" }
void [enqueueOptions, effectForms, waitOptions, handlerOptions, settingsInput, typo, week]

// --- run time -----------------------------------------------------------------------

const thrown = (f: () => unknown): InvalidOptions => {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidOptions)
    return e as InvalidOptions
  }
  throw new Error("expected InvalidOptions to be thrown")
}

const memory = Client.layer.pipe(Layer.provideMerge(Store.layerMemory), Layer.provideMerge(Settings.layer()))

describe("durations", () => {
  it("Handler.make and Handler.forJob take the short forms", () => {
    expect(Handler.make({ timeout: "30s" }, () => 1).timeoutMs).toBe(30_000)
    expect(Handler.make({ timeout: "500ms" }, () => 1).timeoutMs).toBe(500)
    expect(Handler.make({ timeout: "2 minutes" }, () => 1).timeoutMs).toBe(120_000)
    expect(Handler.make({ timeout: 1_500 }, () => 1).timeoutMs).toBe(1_500)
    const Def = JobDefinition.make("def", { timeout: "1h" })
    expect(Handler.forJob(Def, () => 1).timeoutMs).toBe(3_600_000)
    expect(Handler.forJob(Def, () => 1, { timeout: "5m" }).timeoutMs).toBe(300_000)
  })

  it("Handler.make throws InvalidOptions naming the option", () => {
    expect(thrown(() => Handler.make({ timeout: "x" as never }, () => 1)).message).toBe(
      "Handler.make: timeout: invalid duration 'x' (use e.g. 500ms, 2s, 5m, 1h)"
    )
    expect(thrown(() => Handler.make({ timeout: 0 }, () => 1)).message).toBe("Handler.make: timeout must be positive, got 0ms")
    expect(thrown(() => Handler.make({ timeout: "-1s" as never }, () => 1)).message).toContain("Handler.make: timeout")
    expect(thrown(() => Handler.make({ maxRetries: 0 }, () => 1)).message).toContain("maxRetries")
  })

  it("JobDefinition.make throws InvalidOptions naming the definition and the option", () => {
    expect(thrown(() => JobDefinition.make("send", { timeout: "soon" as never })).message).toBe(
      "JobDefinition.make('send'): timeout: invalid duration 'soon' (use e.g. 500ms, 2s, 5m, 1h)"
    )
    expect(thrown(() => JobDefinition.make("send", { resultTtl: -5 })).message).toContain("resultTtl")
  })

  it.live("enqueue: deferBy '2s' defers by two seconds; timeout and resultTtl are stored in ms", () =>
    Effect.gen(function*() {
      const c = yield* RrqClient
      const before = Date.now()
      const ref = yield* c.enqueue("f", {}, { deferBy: "2s", timeout: "30s", resultTtl: "1h" })
      const job = (yield* (yield* JobStore).getJob(ref)).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
      expect(job.nextRunAt! - before).toBeGreaterThanOrEqual(2_000)
      expect(job.nextRunAt! - before).toBeLessThan(3_000)
      expect(job).toMatchObject({ timeoutMs: 30_000, resultTtlMs: 3_600_000 })
      const bad = yield* Effect.flip(c.enqueue("f", {}, { deferBy: "later" as never }))
      expect(bad).toBeInstanceOf(InvalidOptions)
      expect(bad.message).toBe("deferBy: invalid duration 'later' (use e.g. 500ms, 2s, 5m, 1h)")
    }).pipe(Effect.provide(memory)))

  it.live("waitForResult: timeout '50ms' gives WaitTimeout; a bad timeout fails with InvalidOptions naming it", () =>
    Effect.gen(function*() {
      const c = yield* RrqClient
      const ref = yield* c.enqueue("never-run", {})
      const late = yield* Effect.flip(c.waitForResult(ref, { timeout: "50ms" }))
      expect(late._tag).toBe("WaitTimeout")
      const bad = yield* Effect.flip(c.waitForResult(ref, { timeout: "5 parsecs" as never }))
      expect(bad._tag).toBe("InvalidOptions")
      expect(bad.message).toBe("timeout: invalid duration '5 parsecs' (use e.g. 500ms, 2s, 5m, 1h)")
    }).pipe(Effect.provide(memory)))
})
