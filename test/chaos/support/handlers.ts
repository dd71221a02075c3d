/**
 * The handlers the chaos scenarios run in real worker processes. A scenario's
 * settings file (in a temp dir) is one line: `export default chaosConfig({...})`.
 *
 * Every handler run is recorded OUTSIDE the queue, on the recorder Redis named
 * by CHAOS_RECORDER_URL (a database or a server the queue never touches):
 * `HINCRBY runs <jobId> 1` when the run starts. So a job that ran twice shows
 * `runs = 2` even when its first worker died before it could report anything.
 */
import { Schema } from "effect"
import { Redis as IORedis } from "ioredis"
import { defineConfig, Handler } from "effect-rrq"
import type { Settings } from "effect-rrq"

/** The recorder's keys. */
export const RUNS = "runs"
export const PROBES = "probes"

const recorderUrl = process.env.CHAOS_RECORDER_URL
// The default ioredis options queue commands while the recorder is away and resend them,
// so a run is recorded even across a blip (at least once: see the scenarios that rely on it).
const recorder = recorderUrl ? new IORedis(recorderUrl, { maxRetriesPerRequest: 50 }) : undefined

const record = async (jobId: string) => {
  if (recorder) await recorder.hincrby(RUNS, jobId, 1)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface WorkParams {
  /** How long the handler works, in ms (default 0). */
  readonly ms?: number
  /** When set, work for a random duration between ms and maxMs. */
  readonly maxMs?: number
  /** Padding, to make the record bigger (ignored). */
  readonly pad?: string
}

const work = async (params: WorkParams | null, ctx: Handler.JobContext) => {
  await record(ctx.jobId)
  const min = params?.ms ?? 0
  const ms = params?.maxMs === undefined ? min : min + Math.random() * (params.maxMs - min)
  if (ms > 0) await sleep(ms)
  return process.pid
}

/** A handler with a params Schema: `{ n: number }`. */
const typed = Handler.make(
  { params: Schema.Struct({ n: Schema.Number }) },
  async ({ n }, ctx) => {
    await record(ctx.jobId)
    return n * 2
  }
)

/** Reports this process's memory after a full GC (needs node --expose-gc), as one JSON list entry. */
const probe = async (_: unknown, ctx: Handler.JobContext) => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) gc()
  const m = process.memoryUsage()
  const entry = { pid: process.pid, at: Date.now(), heapUsed: m.heapUsed, rss: m.rss, gc: gc !== undefined }
  if (recorder) await recorder.rpush(PROBES, JSON.stringify(entry))
  void ctx
  return entry
}

/** Returns something JSON cannot carry. */
const unserialisable = async (_: unknown, ctx: Handler.JobContext) => {
  await record(ctx.jobId)
  return { big: BigInt(1) }
}

/**
 * Works `ms` milliseconds without yielding (CPU-bound on the event loop) when the process
 * has CHAOS_BLOCK=1; elsewhere it returns at once.
 */
const block = async (params: { readonly ms?: number } | null, ctx: Handler.JobContext) => {
  await record(ctx.jobId)
  if (process.env.CHAOS_BLOCK !== "1") return process.pid
  const end = Date.now() + (params?.ms ?? 0)
  while (Date.now() < end) {
    // busy: nothing else in this process runs, lease renewal included
  }
  return process.pid
}

export const chaosConfig = (settings: Settings.SettingsInput = {}) =>
  defineConfig({
    handlers: { work, typed, probe, unserialisable, block },
    settings
  })
