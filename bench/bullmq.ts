/**
 * BullMQ under the bench: `Queue.addBulk` for batches, `Queue.add` for single
 * jobs, a `Worker` with the concurrency and a no-op async processor. Result
 * keeping as rrq's defaults: completed jobs kept 1 day, failed 7 days
 * (`removeOnComplete: { age: 86400 }`, `removeOnFail: { age: 604800 }`).
 * Everything else is BullMQ's default (lock 30 s, stalled check every 30 s,
 * drainDelay 5 s, events stream on).
 *
 *   npx tsx bench/bullmq.ts --cases process:100 --jobs 20000
 */
import { Queue, Worker } from "bullmq"
import { type Adapter, main, type Payload, pool } from "./driver.js"

const KEEP = { removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } }

const connection = (redisUrl: string) => {
  const u = new URL(redisUrl)
  return { host: u.hostname, port: Number(u.port), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null }
}

export const adapter: Adapter = {
  name: "bullmq",
  settings: "removeOnComplete { age: 86400 }, removeOnFail { age: 604800 }; otherwise defaults",
  producer: async (redisUrl, name) => {
    const queue = new Queue<Payload>(name, { connection: connection(redisUrl), defaultJobOptions: KEEP })
    await queue.waitUntilReady()
    return {
      addBulk: (jobs) => queue.addBulk(jobs.map((data) => ({ name: "noop", data }))).then(() => undefined),
      addConcurrent: (jobs, inflight) => pool(jobs, inflight, (data) => queue.add("noop", data)),
      add: (data) => queue.add("noop", data).then(() => undefined),
      close: () => queue.close()
    }
  },
  worker: async (redisUrl, name, { concurrency, onJob }) => {
    let completed = 0
    const worker = new Worker<Payload>(
      name,
      async (job) => {
        onJob(job.data)
      },
      { connection: connection(redisUrl), concurrency, autorun: false, ...KEEP }
    )
    worker.on("completed", () => completed++)
    worker.on("error", (e) => process.stderr.write(`bullmq worker error: ${e.message}\n`))
    await worker.waitUntilReady()
    return {
      start: async () => {
        void worker.run()
      },
      completed: () => completed,
      close: () => worker.close()
    }
  }
}

await main(adapter)
