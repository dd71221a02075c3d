/** Contract cases: worker heartbeats. */
import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { JobStore, type WorkerInfo } from "../../JobStore.js"
import { type Contract, Q, sleep } from "./support.js"

const worker = (id: string): WorkerInfo => ({
  id,
  pid: 4242,
  host: "box-1",
  queues: [Q, "mail"],
  concurrency: 8,
  active: 2,
  status: "running",
  startedAt: 1_700_000_000_000,
  lastBeat: 1_700_000_005_000
})

/** Worker heartbeats and their TTLs. */
export const workers = ({ timed }: Contract) => {
  timed("heartbeats list live workers by id; removed and expired ones are gone", Effect.gen(function*() {
    const store = yield* JobStore
    expect(yield* store.workers).toEqual([])
    const a = worker("w-a")
    const b = worker("w-b")
    const brief = worker("w-c")
    yield* store.heartbeat(b, 10_000)
    yield* store.heartbeat(brief, 100)
    yield* store.heartbeat(a, 10_000)
    expect(yield* store.workers).toEqual([a, b, brief])
    // a new beat replaces the last one
    const b2: WorkerInfo = { ...b, active: 0, status: "stopping", lastBeat: b.lastBeat + 5_000 }
    yield* store.heartbeat(b2, 10_000)
    expect(yield* store.workers).toEqual([a, b2, brief])
    yield* store.removeHeartbeat("w-a")
    yield* store.removeHeartbeat("never-there")
    expect((yield* store.workers).map((w) => w.id)).toEqual(["w-b", "w-c"])
    yield* sleep(250)
    expect(yield* store.workers).toEqual([b2])
  }))

  timed("a fresh heartbeat renews the TTL", Effect.gen(function*() {
    const store = yield* JobStore
    const w = worker("w-renewed")
    yield* store.heartbeat(w, 150)
    yield* sleep(75)
    yield* store.heartbeat(w, 500)
    yield* sleep(175)
    expect((yield* store.workers).map((x) => x.id)).toEqual(["w-renewed"])
    yield* sleep(500)
    expect(yield* store.workers).toEqual([])
  }))
}
