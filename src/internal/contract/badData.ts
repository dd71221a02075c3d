/** Contract cases: damaged records. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobStore } from "../../JobStore.js"
import { type Contract, enqueue, job, Q, sleep, StoreBackdoor, W } from "./support.js"

/** Records a store cannot read are quarantined, never served. */
export const damagedRecords = ({ test, timed }: Contract) => {
  test("claim quarantines unreadable records into the DLQ and still serves the rest", Effect.gen(function*() {
    const store = yield* JobStore
    const door = yield* StoreBackdoor
    const garbled = yield* enqueue("x", {}, { jobId: "garbled" })
    const wrongType = yield* enqueue("x", {}, { jobId: "wrong-type" })
    const good = yield* enqueue("x", { ok: 1 }, { jobId: "good" })
    yield* door.setRecord(Q, garbled.id, { foo: "bar", currentRetries: "many" })
    yield* door.setRecord(Q, wrongType.id, "not-a-hash")
    yield* door.addPending(Q, "ghost", Date.now() - 10)
    const claimed = yield* store.claim(Q, { ...W, count: 10 })
    expect(claimed.jobs.map((j) => j.id)).toEqual([good.id])
    const dlq = yield* store.listJobs(Q, "dlq", { offset: 0, limit: 10 })
    expect(dlq.map((j) => j.id).sort()).toEqual(["garbled", "ghost", "wrong-type"])
    for (const j of dlq) {
      expect(j.status).toBe("FAILED")
      expect(j.lastError).toMatch(/Corrupted job record|Job record missing/)
    }
    expect(dlq.find((j) => j.id === "ghost")!.lastError).toContain("Job record missing")
    expect(dlq.find((j) => j.id === "wrong-type")!.lastError).toContain("the record was a")
    expect(yield* store.stats(Q)).toMatchObject({ ready: 0, active: 1, dlq: 3, failedTotal: 3 })
  }))

  test("getJob reports a record it cannot read as CorruptedJob", Effect.gen(function*() {
    const door = yield* StoreBackdoor
    const ref = yield* enqueue("x")
    yield* door.setRecord(Q, ref.id, { id: ref.id, status: "WHATEVER" })
    const err = yield* Effect.flip((yield* JobStore).getJob(ref))
    expect(err._tag).toBe("CorruptedJob")
    yield* door.setRecord(Q, ref.id, "not-a-hash")
    expect((yield* Effect.flip((yield* JobStore).getJob(ref)))._tag).toBe("CorruptedJob")
    expect(yield* (yield* JobStore).getJob({ queue: Q, id: "missing" })).toEqual(Option.none())
  }))

  timed("recovery quarantines an expired lease whose record vanished", Effect.gen(function*() {
    const store = yield* JobStore
    const door = yield* StoreBackdoor
    const ref = yield* enqueue("x")
    yield* store.claim(Q, { ...W, count: 1, leaseMs: 20 })
    yield* door.setRecord(Q, ref.id, undefined)
    yield* sleep(50)
    expect((yield* store.recover(Q, { maxStalls: 2, limit: 10 })).deadLettered).toEqual([ref.id])
    expect((yield* job(ref)).lastError).toContain("Job record missing")
  }))
}
