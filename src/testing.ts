/**
 * rrq/testing: the JobStore contract suite. Every store driver runs the same
 * cases; rrq runs them against `layerMemory` and `layerRedis`.
 *
 * ```ts
 * import { contractSuite } from "rrq/testing"
 * contractSuite("my store", () => myStoreLayer) // provides JobStore, RrqSettings, StoreBackdoor
 * ```
 *
 * The cases live in `internal/contract/`, a module per group of transitions.
 */
import { describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { badData, claim, dlq, enqueue, outcomes, signals, unique, workers } from "./internal/contract/index.js"
import * as Contract from "./internal/contract/support.js"
import { type ContractServices, StoreBackdoor, type StoreBackdoorShape } from "./internal/contract/support.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./Redis.js"
import { RrqSettings } from "./Settings.js"

export { type ContractServices, StoreBackdoor, type StoreBackdoorShape }

/**
 * Registers the contract cases with vitest. `makeLayer` is called once per test
 * and must return an isolated store (its own key prefix or memory).
 */
export const contractSuite = <E>(
  name: string,
  makeLayer: () => Layer.Layer<ContractServices, E>
) =>
  describe(`JobStore contract: ${name}`, () => {
    const c = Contract.make(makeLayer)
    describe("enqueue", () => {
      enqueue.writes(c)
      enqueue.runAts(c)
      unique.idempotency(c)
    })
    describe("claim and finish", () => {
      claim.claims(c)
      claim.pausing(c)
      claim.promoting(c)
      outcomes.finishes(c)
      claim.leases(c)
    })
    describe("listing", () => claim.listing(c))
    describe("lease recovery", () => claim.recovery(c))
    describe("cancel", () => outcomes.cancel(c))
    describe("workers", () => workers.workers(c))
    describe("dead-letter queue", () => dlq.deadLetterQueue(c))
    describe("unique keys", () => unique.uniqueKeys(c))
    describe("damaged records", () => badData.damagedRecords(c))
    describe("results and signals", () => {
      signals.results(c)
      signals.signals(c)
    })
  })

/** The backdoor of the Redis store: raw commands on its keys. */
export const redisBackdoor = Layer.effect(
  StoreBackdoor,
  Effect.gen(function*() {
    const { redis } = yield* RedisClient
    const keys = Keys.make((yield* RrqSettings).keyPrefix)
    return {
      setRecord: (queue, id, record) =>
        Effect.promise(async () => {
          const key = keys.job(queue, id)
          await redis.del(key)
          if (record === "not-a-hash") await redis.set(key, "garbage")
          else if (record) await redis.hset(key, record)
        }),
      addPending: (queue, id, runAt) => Effect.promise(() => redis.zadd(keys.queue(queue).pending, runAt, id))
    } satisfies StoreBackdoorShape
  })
)
