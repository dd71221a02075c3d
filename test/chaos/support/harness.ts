/**
 * The chaos harness: real `rrq` processes (bin/rrq.js) against private
 * redis-servers, with everything a scenario starts registered here and torn
 * down after each test (and SIGKILLed if the test process itself goes away).
 *
 * A scenario's figures are printed as one line `CHAOS {json}` on stdout, and
 * appended to the file named by CHAOS_REPORT when it is set.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Redis as IORedis } from "ioredis"
import { Cause, Effect, Exit, Layer, Logger, ManagedRuntime, Option } from "effect"
import { afterAll, afterEach } from "vitest"
import * as Client from "../../../src/Client.js"
import type { EnqueueOptions, Job, JobRef } from "../../../src/Job.js"
import * as JobStore from "../../../src/JobStore.js"
import * as Redis from "../../../src/Redis.js"
import * as Settings from "../../../src/Settings.js"
import type { SettingsInput } from "../../../src/Settings.js"
import { type RedisServer, startRedis } from "../../support/redisServer.js"

export const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)))
export const BIN = join(ROOT, "bin/rrq.js")
const HANDLERS = join(ROOT, "test/chaos/support/handlers.ts")

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// --- cleanup ------------------------------------------------------------------

type Cleanup = () => unknown
const cleanups: Array<Cleanup> = []
const children = new Set<ChildProcess>()

/** Runs `f` after the current test (last registered, first run), even when the test fails or times out. */
export const defer = (f: Cleanup) => {
  cleanups.push(f)
}

const runCleanups = async () => {
  while (cleanups.length > 0) {
    const f = cleanups.pop()!
    try {
      await f()
    } catch (e) {
      console.error("chaos cleanup failed:", e)
    }
  }
}

/** Registers the teardown hooks; every chaos file calls it once at the top. */
export const useHarness = () => {
  afterEach(runCleanups, 60_000)
  afterAll(async () => {
    await runCleanups()
    if (settingsDir) rmSync(settingsDir, { recursive: true, force: true })
    settingsDir = undefined
  }, 60_000)
}

// Last resort: never leave a worker or a redis-server behind.
process.once("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

const track = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

// --- redis-servers ------------------------------------------------------------

/** A private redis-server, stopped after the test. */
export const redisServer = async (args: ReadonlyArray<string> = [], port?: number): Promise<RedisServer> => {
  const server = await startRedis(args, port)
  track(server.process)
  defer(() => server.stop())
  return server
}

/** The URL of another database of the same server. */
export const dbUrl = (url: string, db: number) => url.replace(/\/\d+$/, `/${db}`)

/** A raw ioredis connection (for checks and fault injection from outside rrq), closed after the test. */
export const rawRedis = (url: string, options: { readonly maxRetriesPerRequest?: number | null } = {}) => {
  const r = new IORedis(url, { maxRetriesPerRequest: 3, ...options })
  r.on("error", () => undefined) // reconnects on its own; the caller sees command errors
  defer(() => r.quit().catch(() => r.disconnect()))
  return r
}

export interface ChaosClient {
  readonly enqueue: (functionName: string, params: unknown, options?: EnqueueOptions) => Promise<Client.Enqueued>
  readonly enqueueMany: (requests: ReadonlyArray<Client.EnqueueRequest>) => Promise<ReadonlyArray<Client.Enqueued>>
  readonly waitForResult: (ref: JobRef, options?: Client.WaitOptions) => Promise<unknown>
  /** The job record (undefined: none), or a rejection (CorruptedJob when it cannot be read). */
  readonly getJob: (ref: JobRef) => Promise<Job | undefined>
  /** What the client logged (level and message), instead of printing it. */
  readonly logs: Array<{ readonly level: string; readonly message: string }>
  readonly close: () => Promise<void>
}

/**
 * The rrq library client (RrqClient over the Redis store) for `redisUrl`, in this
 * process, closed after the test. Failures reject with rrq's own errors; logs are
 * kept in `logs` rather than printed.
 */
export const rrqClient = (redisUrl: string, settings: SettingsInput = {}): ChaosClient => {
  const logs: Array<{ level: string; message: string }> = []
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.map(String).join(" ") : String(message) })
    })
  )
  const runtime = ManagedRuntime.make(
    Client.layer.pipe(
      Layer.provideMerge(JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))),
      Layer.provideMerge(Settings.layer({ redisUrl, ...settings })),
      Layer.provide(logger)
    )
  )
  const run = <A, E>(f: (c: Client.RrqClientShape) => Effect.Effect<A, E>) =>
    runtime.runPromiseExit(Effect.flatMap(Client.RrqClient, f).pipe(Effect.provide(logger))).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw Cause.squash(exit.cause)
    })
  const close = () => runtime.dispose()
  defer(close)
  return {
    enqueue: (functionName, params, options) => run((c) => c.enqueue(functionName, params, options)),
    enqueueMany: (requests) => run((c) => c.enqueueMany(requests)),
    waitForResult: (ref, options) => run((c) => c.waitForResult(ref, options)),
    getJob: (ref) => run((c) => c.getJob(ref)).then(Option.getOrUndefined),
    logs,
    close
  }
}

// --- settings files and processes ----------------------------------------------

let settingsDir: string | undefined

/** Writes `<name>.ts` (default export: the chaos handlers with these settings) in a temp dir; returns its path. */
export const settingsFile = (name: string, settings: SettingsInput = {}) => {
  if (!settingsDir) {
    settingsDir = mkdtempSync(join(tmpdir(), "rrq-chaos-"))
    writeFileSync(join(settingsDir, "package.json"), '{ "type": "module" }\n')
  }
  const file = join(settingsDir, `${name}.ts`)
  writeFileSync(
    file,
    `import { chaosConfig } from ${JSON.stringify(HANDLERS)}\nexport default chaosConfig(${JSON.stringify(settings)})\n`
  )
  return file
}

/** The environment of an rrq process: no RRQ_* variable of the caller, then ours. */
export const rrqEnv = (extra: Record<string, string>) => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("RRQ_") && !k.startsWith("CHAOS_")) env[k] = v
  }
  return { ...env, ...extra }
}

export interface RrqProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly startedAt: number
  /** stderr so far (logs). */
  readonly stderr: () => string
  readonly stdout: () => string
  readonly alive: () => boolean
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends a signal and waits for the exit (SIGKILL after `timeoutMs`). */
  readonly stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `node [nodeArgs] bin/rrq.js ...args`; SIGKILLed after the test if still running. */
export const spawnRrq = (
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  nodeArgs: ReadonlyArray<string> = []
): RrqProcess => {
  const child = track(spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: rrqEnv(env), stdio: ["ignore", "pipe", "pipe"] }))
  let stderr = ""
  let stdout = ""
  child.stderr!.on("data", (d) => (stderr += d))
  child.stdout!.on("data", (d) => (stdout += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.once("exit", (code, signal) => done({ code, signal }))
  })
  const alive = () => child.exitCode === null && child.signalCode === null
  const stop = async (signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000) => {
    if (alive()) {
      child.kill(signal)
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
      const r = await exited
      clearTimeout(timer)
      return r
    }
    return exited
  }
  defer(() => stop("SIGKILL"))
  return {
    child,
    pid: child.pid!,
    startedAt: Date.now(),
    stderr: () => stderr,
    stdout: () => stdout,
    alive,
    exited,
    stop
  }
}

/** `rrq worker run --settings FILE ...` as its own process. */
export const spawnWorker = (
  settings: string,
  env: Record<string, string>,
  args: ReadonlyArray<string> = [],
  nodeArgs: ReadonlyArray<string> = []
) => spawnRrq(["worker", "run", "--settings", settings, ...args], env, nodeArgs)

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
  readonly timedOut: boolean
}

/** Runs one `rrq` command to its end (killed after `timeoutMs`). */
export const rrqCli = (args: ReadonlyArray<string>, env: Record<string, string>, timeoutMs = 60_000) =>
  new Promise<CliResult>((done) => {
    const t0 = Date.now()
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: rrqEnv(env), timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const timedOut = error !== null && (error as { killed?: boolean }).killed === true
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
        done({ code, stdout, stderr, ms: Date.now() - t0, timedOut })
      }
    )
    track(child)
  })

// --- polling ------------------------------------------------------------------

/** Polls `check` until it is true; throws after `timeoutMs` with `what` (and the last detail). */
export const until = async (
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
  intervalMs = 200,
  detail?: () => unknown
) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let ok = false
    try {
      ok = await check()
    } catch {
      ok = false
    }
    if (ok) return
    if (Date.now() > deadline) {
      let extra = ""
      if (detail) {
        try {
          extra = `: ${JSON.stringify(await detail())}`
        } catch {
          // the detail is only a hint
        }
      }
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${extra}`)
    }
    await sleep(intervalMs)
  }
}

// --- reading the queue from outside ------------------------------------------------

export const Q = "default"
/** The keys of the default queue under the default prefix. */
export const keys = {
  pending: `rrq:{${Q}}:pending`,
  active: `rrq:{${Q}}:active`,
  dlq: `rrq:{${Q}}:dlq`,
  stats: `rrq:{${Q}}:stats`,
  job: (id: string) => `rrq:{${Q}}:job:${id}`,
  corrupt: (id: string) => `rrq:{${Q}}:corrupt:${id}`,
  workers: "rrq:worker:*"
}

export interface Counts {
  readonly ready: number
  readonly pending: number
  readonly active: number
  readonly dlq: number
  readonly completedTotal: number
  readonly failedTotal: number
}

export const counts = async (r: IORedis): Promise<Counts> => {
  const [pending, ready, active, dlq, totals] = await Promise.all([
    r.zcard(keys.pending),
    r.zcount(keys.pending, "-inf", Date.now()),
    r.zcard(keys.active),
    r.zcard(keys.dlq),
    r.hmget(keys.stats, "completedTotal", "failedTotal")
  ])
  return { pending, ready, active, dlq, completedTotal: Number(totals[0] ?? 0), failedTotal: Number(totals[1] ?? 0) }
}

/** Reads some fields of many job records, 1,000 per pipeline. */
export const jobFields = async (r: IORedis, ids: ReadonlyArray<string>, fields: ReadonlyArray<string>) => {
  const out = new Map<string, Array<string | null>>()
  for (let i = 0; i < ids.length; i += 1_000) {
    const chunk = ids.slice(i, i + 1_000)
    const p = r.pipeline()
    for (const id of chunk) p.hmget(keys.job(id), ...fields)
    const replies = (await p.exec()) ?? []
    chunk.forEach((id, j) => {
      const [err, value] = replies[j] ?? [null, null]
      out.set(id, err ? fields.map(() => null) : (value as Array<string | null>))
    })
  }
  return out
}

/** status of each job (null: no record). */
export const statuses = async (r: IORedis, ids: ReadonlyArray<string>) => {
  const fields = await jobFields(r, ids, ["status"])
  return new Map([...fields].map(([id, [status]]) => [id, status ?? null]))
}

/** How many jobs are in each status. */
export const tally = (values: Iterable<string | null>) => {
  const t: Record<string, number> = {}
  for (const v of values) t[v ?? "(no record)"] = (t[v ?? "(no record)"] ?? 0) + 1
  return t
}

/** The runs recorded by the handlers (recorder Redis): job id → runs. */
export const runs = async (recorder: IORedis) => {
  const all = await recorder.hgetall("runs")
  return new Map(Object.entries(all).map(([id, n]) => [id, Number(n)]))
}

/** Live workers (heartbeats): pid per worker id. */
export const liveWorkers = async (r: IORedis) => {
  const ids = await r.keys(keys.workers)
  if (ids.length === 0) return []
  const values = await r.mget(...ids)
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as { id: string; pid: number; active: number })
}

/** The pid inside a worker id (`host-pid-hex`). */
export const pidOfWorker = (workerId: string | null | undefined) => {
  const m = /-(\d+)-[0-9a-f]{6}(?:-\d+)?$/.exec(workerId ?? "")
  return m ? Number(m[1]) : undefined
}

/** Jobs in the active set whose lease belongs to a worker of process `pid`. */
export const activeJobsOf = async (r: IORedis, pid: number) => {
  const ids = await r.zrange(keys.active, 0, -1)
  const fields = await jobFields(r, ids, ["workerId"])
  return ids.filter((id) => pidOfWorker(fields.get(id)?.[0]) === pid)
}

/** Pids of the processes holding leases right now, with their count. */
export const leaseHolders = async (r: IORedis) => {
  const ids = await r.zrange(keys.active, 0, -1)
  const fields = await jobFields(r, ids, ["workerId"])
  const byPid = new Map<number, number>()
  for (const [, [w]] of fields) {
    const pid = pidOfWorker(w)
    if (pid !== undefined) byPid.set(pid, (byPid.get(pid) ?? 0) + 1)
  }
  return byPid
}

// --- process figures ------------------------------------------------------------

/** Resident set size of a process, in bytes (Linux /proc). */
export const rssOf = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

let clockTicks: number | undefined
/** CPU time (user + system) a process used so far, in ms (Linux /proc). */
export const cpuMsOf = (pid: number): number | undefined => {
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks
  } catch {
    return undefined
  }
}

export const percentile = (values: ReadonlyArray<number>, p: number) => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round((bytes / 1048576) * 10) / 10)

// --- figures --------------------------------------------------------------------

/** Prints a scenario's figures (one `CHAOS {json}` line) and appends them to $CHAOS_REPORT. */
export const report = (scenario: string, figures: Record<string, unknown>) => {
  const line = JSON.stringify({ scenario, at: new Date().toISOString(), ...figures })
  console.log(`CHAOS ${line}`)
  const file = process.env.CHAOS_REPORT
  if (file) appendFileSync(file, `${line}\n`)
}
