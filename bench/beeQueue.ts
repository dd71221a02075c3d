/**
 * bee-queue under the bench: `Queue#saveAll` for batches, `createJob().save()`
 * for single jobs, `process(concurrency, fn)` with a no-op async handler.
 * Producers use bee-queue's recommended producer settings (isWorker,
 * getEvents and storeJobs off). Workers keep finished jobs (bee-queue has no
 * age-based removal: `removeOnSuccess: false`, its default, is the closest to
 * rrq's 1 day), publish job events (default) and run the stalled-job check
 * every 5 s as bee-queue's README recommends.
 *
 *   npx tsx bench/beeQueue.ts --cases process:100 --jobs 20000
 */
import BeeQueue from "bee-queue"
import { type Adapter, main, type Payload, pool } from "./driver.js"

const STALL_INTERVAL_MS = 5_000

export const adapter: Adapter = {
  name: "beeQueue",
  settings: "removeOnSuccess/removeOnFailure false (default: kept); stall check every 5 s; events on",
  producer: async (redisUrl, name) => {
    const queue = new BeeQueue<Payload>(name, {
      redis: { url: redisUrl },
      isWorker: false,
      getEvents: false,
      storeJobs: false
    })
    await queue.ready()
    return {
      addBulk: async (jobs) => {
        const errors = await queue.saveAll(jobs.map((p) => queue.createJob(p)))
        if (errors.size > 0) throw [...errors.values()][0]
      },
      addConcurrent: (jobs, inflight) => pool(jobs, inflight, (p) => queue.createJob(p).save()),
      add: (p) => queue.createJob(p).save().then(() => undefined),
      close: () => queue.close()
    }
  },
  worker: async (redisUrl, name, { concurrency, onJob }) => {
    let completed = 0
    const queue = new BeeQueue<Payload>(name, {
      redis: { url: redisUrl },
      isWorker: true,
      getEvents: false,
      stallInterval: STALL_INTERVAL_MS,
      removeOnSuccess: false,
      removeOnFailure: false
    })
    queue.on("succeeded", () => completed++)
    queue.on("error", (e) => process.stderr.write(`bee-queue error: ${e.message}\n`))
    await queue.ready()
    return {
      start: async () => {
        queue.process(concurrency, async (job) => {
          onJob(job.data)
        })
        queue.checkStalledJobs(STALL_INTERVAL_MS).catch(() => {})
      },
      completed: () => completed,
      close: () => queue.close()
    }
  }
}

await main(adapter)
