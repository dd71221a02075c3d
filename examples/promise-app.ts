/**
 * rrq from plain async code, no Effect in sight: `npx tsx examples/promise-app.ts`.
 * Uses Redis when RRQ_REDIS_URL is set, the in-memory store otherwise.
 */
import { PromiseApi } from "effect-rrq"

const redisUrl = process.env.RRQ_REDIS_URL
const rrq = PromiseApi.connect(redisUrl ? { redisUrl, keyPrefix: "rrq-example" } : { store: "memory" })

const worker = await rrq.startWorker({
  concurrency: 5,
  handlers: {
    greet: async ({ name }: { name: string }, ctx) => {
      await new Promise((r) => setTimeout(r, 50))
      return `Hello, ${name}! (attempt ${ctx.attempt} on ${ctx.workerId})`
    }
  }
})

const jobs = await Promise.all(["Ada", "Grace", "Linus"].map((name) => rrq.enqueue("greet", { name })))
for (const job of jobs) console.log(await rrq.waitForResult(job, { timeout: "5 seconds" }))

try {
  await rrq.enqueue("greet", { name: "twice" }, { jobId: jobs[0]!.id })
} catch (error) {
  console.log(`Rejected as expected: ${(error as Error).message}`)
}

await worker.stop()
await rrq.close()
