/**
 * Bulk operations stay within one script's reach (issue 11, defect 7, the enqueue
 * part): an `enqueueMany` past the limit is refused with a typed error naming it,
 * and nothing is written; at the limit it works, in one atomic script per queue.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import { InvalidOptions } from "../src/Errors.js"
import * as Store from "../src/JobStore.js"
import { JobStore } from "../src/JobStore.js"
import * as Settings from "../src/Settings.js"
import { redisStoreLayer } from "./support/index.js"

const stores = {
  memory: () => Store.layerMemory.pipe(Layer.provideMerge(Settings.layer())),
  redis: () => redisStoreLayer()
}

for (const [name, layer] of Object.entries(stores)) {
  describe(`enqueueMany on ${name}`, () => {
    it.live(`refuses more than ${Client.MAX_ENQUEUE_MANY} jobs with InvalidOptions naming the limit, writing nothing`, () =>
      Effect.gen(function*() {
        const client = yield* RrqClient
        const store = yield* JobStore
        const many = (n: number) => Array.from({ length: n }, (_, i) => ({ job: "x", params: { i } }))
        const e = yield* Effect.flip(client.enqueueMany(many(Client.MAX_ENQUEUE_MANY + 1)))
        expect(e).toBeInstanceOf(InvalidOptions)
        expect(e.message).toContain(`at most ${Client.MAX_ENQUEUE_MANY} jobs`)
        expect((yield* store.stats("default")).ready).toBe(0)
        const refs = yield* client.enqueueMany(many(Client.MAX_ENQUEUE_MANY))
        expect(refs).toHaveLength(Client.MAX_ENQUEUE_MANY)
        expect((yield* store.stats("default")).ready).toBe(Client.MAX_ENQUEUE_MANY)
      }).pipe(Effect.provide(Client.layer.pipe(Layer.provideMerge(layer())))), 30_000)
  })
}
