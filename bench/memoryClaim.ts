/**
 * The memory store's claim, per call: `npx tsx bench/memoryClaim.ts`. The yardstick of
 * the embedded-Lua evaluation (bench/luaVm/, docs/architecture.md "The memory store").
 * The seeding (record and pending entry through the contract suite's hooks) is in the
 * figures; "seed 1 alone" says how much of them it is.
 */
import { Effect } from "effect"
import { performance } from "node:perf_hooks"
import * as Memory from "../src/internal/memoryStore.js"
import * as Settings from "../src/Settings.js"

const store = Effect.runSync(Memory.make.pipe(Effect.provide(Settings.layer())))

const record = (id: string) => ({
  id,
  queue: "default",
  functionName: "add",
  params: "{}",
  status: "PENDING",
  currentRetries: "0",
  maxRetries: "3",
  enqueuedAt: "1",
  stalls: "0",
  resultTtlMs: "0",
  nextRunAt: "1"
})

const bench = (label: string, n: number, f: (i: number) => void) => {
  for (let i = 0; i < 200; i++) f(i + 1e6) // warm-up
  const start = performance.now()
  for (let i = 0; i < n; i++) f(i)
  console.log(`${label}: ${(((performance.now() - start) * 1000) / n).toFixed(1)} µs/call`)
}

const seed = (i: number, n: number) => {
  for (let j = 0; j < n; j++) {
    const id = `j${i}-${j}`
    Effect.runSync(store.unsafeSetRecord("default", id, record(id)))
    Effect.runSync(store.unsafeAddPending("default", id, 1))
  }
}

const claim = (count: number) => Effect.runSync(store.claim("default", { count, workerId: "w1", leaseMs: 30_000 }))

for (const n of [1, 10]) {
  bench(`memory claim count ${n}, ${n} due (incl. seed)`, 20_000, (i) => {
    seed(i * 100 + n, n)
    claim(n)
  })
}
bench("memory claim on an empty queue", 20_000, () => claim(1))
bench("seed 1 alone", 5_000, (i) => seed(i + 2e6, 1))
