/**
 * A unique lock lives as long as its holder is pending or running (issue 11,
 * defect 9): its safety TTL (here 300 ms) is only a backstop, so a second job with
 * the key never runs while a deferred or long-running holder exists.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import * as Store from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import { redisStoreLayer } from "./support/index.js"

const TTL = 300
const stores = {
  memory: () => Store.layerMemory.pipe(Layer.provideMerge(Settings.layer({ uniqueLockTtlMs: TTL }))),
  redis: () => redisStoreLayer({ uniqueLockTtlMs: TTL })
}
const W = { workerId: "w", leaseMs: 200 }

for (const [name, layer] of Object.entries(stores)) {
  describe(`unique locks on ${name}`, () => {
    // a store of its own for each test (a fresh key prefix on redis)
    const provide = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, Client.layer.pipe(Layer.provideMerge(layer())))

    it.live("a deferred holder keeps its key past the lock's TTL", () =>
      Effect.gen(function*() {
        const client = yield* RrqClient
        const store = yield* JobStore
        const holder = yield* client.enqueue("x", {}, { uniqueKey: "k", deferBy: 3 * TTL })
        yield* Effect.sleep(2 * TTL)
        const second = yield* client.enqueue("x", {}, { uniqueKey: "k" })
        expect((yield* store.claim("default", { ...W, count: 10 })).jobs).toEqual([])
        yield* Effect.sleep(TTL + 50)
        expect((yield* store.claim("default", { ...W, count: 10 })).jobs.map((j) => j.id)).toEqual([holder.id])
        expect(second.created).toBe(true)
      }).pipe(provide), 10_000)

    it.live("a running holder keeps its key for as long as its lease is renewed, and hands it over when done", () =>
      Effect.gen(function*() {
        const client = yield* RrqClient
        const store = yield* JobStore
        yield* client.enqueue("x", {}, { uniqueKey: "k" })
        const [running] = (yield* store.claim("default", { ...W, count: 1 })).jobs
        const lease = { id: running!.id, token: running!.leaseToken }
        for (let i = 0; i < 6; i++) {
          yield* Effect.sleep(TTL / 3)
          expect(yield* store.extend("default", [lease], W.leaseMs)).toEqual([true])
        }
        // 600 ms after the claim, twice the lock's TTL: still held
        const next = yield* client.enqueue("x", {}, { uniqueKey: "k" })
        expect((yield* store.claim("default", { ...W, count: 10 })).jobs).toEqual([])
        expect(yield* store.complete("default", [{ ...lease, result: "null" }])).toEqual([true])
        expect((yield* store.claim("default", { ...W, count: 10 })).jobs.map((j) => j.id)).toEqual([next.id])
      }).pipe(provide), 10_000)
  })
}
