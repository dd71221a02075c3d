/**
 * `npm run bench`: rrq against BullMQ and bee-queue on one private redis-server,
 * each system in its own child process, one after another, plus a Redis-only
 * probe (`redisLimit`). Prints a table, and with --json one JSON object on the
 * last line of stdout. Progress goes to stderr. See docs/performance.md.
 *
 *   npm run bench                          full run (≈ 5 min on 2 cores)
 *   npm run bench -- --quick               smoke run (≈ 1.5 min)
 *   npm run bench -- --json --reps 5 --jobs 50000 --only rrq,bullmq
 *
 * Options:
 *   --jobs N        jobs per enqueue / processing case (default 20000)
 *   --c1-jobs N     jobs of the concurrency-1 case (default 2000, at most --jobs)
 *   --rss-jobs N    jobs of the memory case (default 100000)
 *   --reps R        repetitions of the throughput and latency cases; the median is reported (default 3)
 *   --only LIST     any of rrq,bullmq,beeQueue,redisLimit (default all)
 *   --window S      idle measurement window in seconds (default 10)
 *   --samples N     pickup latency samples (default 200)
 *   --pickup-warmup N  pickup samples not counted, so the path is JIT-compiled (default 200)
 *   --json          print the JSON object as the last line
 *   --quick         small sizes: --jobs 2000 --rss-jobs 10000 --reps 1 --window 3 --samples 50 --pickup-warmup 20
 *   --out FILE      also write every case's full result (breakdowns, CPU) to FILE as JSON
 *   --redis URL     use this Redis instead of starting one (it is FLUSHALLed between cases!)
 *   --rrq-settings JSON   rrq settings over its defaults, e.g. '{"pollDelayMs":"1s"}' (tuning experiments)
 *   --profile       instead of the comparison: CPU profiles (node --cpu-prof) of an rrq worker
 *                   (concurrency 100) and producer (bulk) over --jobs (default 50000), summarised;
 *                   --only picks other systems, --profile-dir keeps the .cpuprofile files somewhere known,
 *                   --top N functions listed (25)
 *   --help          this text
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { flagNumber, flagString, log, median, parseFlags, RESULT_PREFIX, RedisAdmin, round } from "./common.js"
import * as Profile from "./profile.js"
import { type RedisServer, redisVersion, startRedis } from "./redisServer.js"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")

type Result = Record<string, unknown> & { readonly system: string; readonly case: string }

const SYSTEMS = ["rrq", "bullmq", "beeQueue"] as const
type System = (typeof SYSTEMS)[number]
const FILES: Record<System | "redisLimit", string> = {
  rrq: "rrq.ts",
  bullmq: "bullmq.ts",
  beeQueue: "beeQueue.ts",
  redisLimit: "redisLimit.ts"
}

// --- options ----------------------------------------------------------------

const flags = parseFlags(process.argv.slice(2))
const KNOWN = [
  "jobs", "c1-jobs", "rss-jobs", "reps", "only", "window", "samples", "pickup-warmup", "json", "quick", "out", "redis",
  "rrq-settings", "profile", "profile-dir", "top", "help"
]
if (flags["help"] === true) {
  // the usage is this file's header comment
  const source = readFileSync(fileURLToPath(import.meta.url), "utf8")
  process.stdout.write(`${/\/\*\*([\s\S]*?)\*\//.exec(source)![1]!.replace(/^ \* ?/gm, "").trim()}\n`)
  process.exit(0)
}
for (const name of Object.keys(flags)) {
  if (!KNOWN.includes(name)) {
    process.stderr.write(`unknown option --${name} (npm run bench -- --help)\n`)
    process.exit(2)
  }
}
const quick = flags["quick"] === true
const opt = {
  jobs: flagNumber(flags, "jobs", quick ? 2_000 : 20_000),
  c1Jobs: flagNumber(flags, "c1-jobs", quick ? 500 : 2_000),
  rssJobs: flagNumber(flags, "rss-jobs", quick ? 10_000 : 100_000),
  reps: Math.max(1, flagNumber(flags, "reps", quick ? 1 : 3)),
  window: flagNumber(flags, "window", quick ? 3 : 10),
  samples: flagNumber(flags, "samples", quick ? 50 : 200),
  pickupWarmup: flagNumber(flags, "pickup-warmup", quick ? 20 : 200),
  json: flags["json"] === true,
  out: typeof flags["out"] === "string" ? flags["out"] : undefined,
  only: flagString(flags, "only", [...SYSTEMS, "redisLimit"].join(",")).split(",").map((s) => s.trim()).filter(Boolean)
}
for (const name of opt.only) {
  if (!(name in FILES)) throw new Error(`--only: unknown system '${name}' (rrq, bullmq, beeQueue, redisLimit)`)
}
const systems = SYSTEMS.filter((s) => opt.only.includes(s))

// --- children -----------------------------------------------------------------

const children = new Set<ChildProcess>()
let redis: RedisServer | undefined

const killAll = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
}
process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    log(`\n${signal}: stopping children and redis-server`)
    killAll()
    void (redis?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
  })
}

interface Spawned {
  readonly child: ChildProcess
  readonly results: Promise<ReadonlyArray<Result>>
  /** Every stdout line that is not a result (READY / PROGRESS protocol of worker children). */
  readonly onLine: (f: (line: string) => void) => void
}

/** Starts a bench child: node --expose-gc --import tsx bench/<file> args. */
const spawnChild = (
  file: string,
  args: ReadonlyArray<string>,
  nodeArgs: ReadonlyArray<string> = [],
  timeoutMs = 15 * 60_000
): Spawned => {
  const extra = file === FILES.rrq && typeof flags["rrq-settings"] === "string" ? ["--rrq-settings", flags["rrq-settings"]] : []
  const child = spawn(process.execPath, ["--expose-gc", ...nodeArgs, "--import", "tsx", join(here, file), ...args, ...extra], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"]
  })
  children.add(child)
  const results: Array<Result> = []
  const listeners: Array<(line: string) => void> = []
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith(RESULT_PREFIX)) results.push(JSON.parse(line.slice(RESULT_PREFIX.length)) as Result)
    else if (line.startsWith("BENCH_")) listeners.forEach((f) => f(line))
    else process.stderr.write(`    ${line}\n`)
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  const done = new Promise<ReadonlyArray<Result>>((resolve, reject) => {
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      if (code === 0) resolve(results)
      else reject(new Error(`bench/${file} ${args.join(" ")} failed (${signal ?? `exit code ${code}`})`))
    })
  })
  return { child, results: done, onLine: (f) => listeners.push(f) }
}

const runChild = (file: string, args: ReadonlyArray<string>, nodeArgs: ReadonlyArray<string> = []) =>
  spawnChild(file, args, nodeArgs).results

// --- cases --------------------------------------------------------------------

const all: Array<Result & { readonly rep?: number }> = []
const record = (rs: ReadonlyArray<Result>, rep?: number) => {
  for (const r of rs) all.push(rep === undefined ? r : { ...r, rep })
}

const suite = (system: System, url: string) =>
  runChild(FILES[system], [
    "--redis",
    url,
    "--cases",
    "bulk,enqueue,process:1,process:10,process:100,pickup",
    "--jobs",
    String(opt.jobs),
    "--c1-jobs",
    String(opt.c1Jobs),
    "--samples",
    String(opt.samples),
    "--pickup-warmup",
    String(opt.pickupWarmup)
  ])

/** N jobs, two worker processes (concurrency 100 each) started together; time to the last completion. */
const twoProcesses = async (system: System, url: string, admin: RedisAdmin) => {
  const queue = "bench-2proc"
  await admin.flush()
  await runChild(FILES[system], ["--redis", url, "--cases", "fill", "--no-flush", "--queue", queue, "--jobs", String(opt.jobs)])
  const workers = [0, 1].map(() =>
    spawnChild(FILES[system], ["--redis", url, "--cases", "worker", "--queue", queue, "--concurrency", "100"])
  )
  const progress = [0, 0]
  let ready = 0
  let allReady!: () => void
  let allDone!: () => void
  const readyP = new Promise<void>((r) => (allReady = r))
  const doneP = new Promise<void>((r) => (allDone = r))
  workers.forEach((w, k) =>
    w.onLine((line) => {
      if (line === "BENCH_READY" && ++ready === workers.length) allReady()
      const m = /^BENCH_PROGRESS (\d+)/.exec(line)
      if (m) {
        progress[k] = Number(m[1])
        if (progress[0]! + progress[1]! >= opt.jobs) allDone()
      }
    })
  )
  const failed = Promise.race(workers.map((w) => w.results.then(() => new Promise<never>(() => {}))))
  await Promise.race([readyP, failed])
  for (const w of workers) w.child.stdin!.write("go\n")
  await Promise.race([doneP, failed])
  for (const w of workers) w.child.stdin!.write("stop\n")
  const rs = (await Promise.all(workers.map((w) => w.results))).flat()
  const start = Math.min(...rs.map((r) => r["startedAt"] as number))
  const end = Math.max(...rs.map((r) => r["lastCompletionAt"] as number))
  return {
    system,
    case: "process:2proc",
    perSec: round(opt.jobs / ((end - start) / 1000)),
    jobs: opt.jobs,
    perProcess: rs.map((r) => r["completed"] as number)
  } satisfies Result
}

const memory = async (system: System, url: string, admin: RedisAdmin) => {
  const queue = "bench-rss"
  await admin.flush()
  record(
    await runChild(FILES[system], ["--redis", url, "--cases", "fill", "--no-flush", "--queue", queue, "--jobs", String(opt.rssJobs)])
  )
  return runChild(FILES[system], ["--redis", url, "--cases", "rss", "--queue", queue, "--jobs", String(opt.rssJobs)])
}

// --- CPU profiles -------------------------------------------------------------

/**
 * `--profile`: node --cpu-prof over one worker process (concurrency 100, jobs
 * enqueued beforehand by another process) and over one producer process (bulk
 * enqueue), for each selected system (default rrq only), then a summary of each.
 */
const profileRun = async (url: string, admin: RedisAdmin) => {
  const dir = flagString(flags, "profile-dir", join(tmpdir(), `rrq-bench-profiles-${process.pid}`))
  const jobs = flagNumber(flags, "jobs", quick ? 10_000 : 50_000)
  const which = typeof flags["only"] === "string" ? systems : (["rrq"] as const)
  for (const system of which) {
    const queue = "bench-profile"
    await admin.flush()
    await runChild(FILES[system], ["--redis", url, "--cases", "fill", "--no-flush", "--queue", queue, "--jobs", String(jobs)])
    const workerDir = join(dir, `${system}-worker`)
    log(`[profile] ${system}: worker, concurrency 100, ${jobs} jobs → ${workerDir}`)
    const [worker] = await runChild(
      FILES[system],
      ["--redis", url, "--cases", "rss", "--queue", queue, "--jobs", String(jobs)],
      ["--cpu-prof", `--cpu-prof-dir=${workerDir}`]
    )
    const producerDir = join(dir, `${system}-producer`)
    log(`[profile] ${system}: bulk enqueue, ${jobs} jobs → ${producerDir}`)
    const [producer] = await runChild(
      FILES[system],
      ["--redis", url, "--cases", "bulk", "--jobs", String(jobs)],
      ["--cpu-prof", `--cpu-prof-dir=${producerDir}`]
    )
    const runs = [["worker", workerDir, worker], ["producer (bulk enqueue)", producerDir, producer]] as const
    for (const [what, d, result] of runs) {
      // only the timed part: the process start-up (module loading, tsx) would blur the picture
      const window = result?.["profileWindowUs"] as readonly [number, number] | undefined
      // one file per thread: the main thread's has thread id 0 (the others are tsx's loader thread)
      for (const f of readdirSync(d).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))) {
        const profile = JSON.parse(readFileSync(join(d, f), "utf8")) as Parameters<typeof Profile.summarize>[0]
        const summary = Profile.summarize(profile, flagNumber(flags, "top", 25), window)
        process.stdout.write(Profile.format(summary, `${system} ${what}, timed part only: ${join(d, f)}`))
        process.stdout.write("\n")
      }
    }
  }
}

// --- the run ------------------------------------------------------------------

const rotate = <A>(xs: ReadonlyArray<A>, by: number) => xs.map((_, i) => xs[(i + by) % xs.length]!)

let startLoad = loadavg()[0]!

const main = async () => {
  startLoad = loadavg()[0]!
  const startedAt = new Date()
  const t0 = Date.now()
  redis = typeof flags["redis"] === "string" ? undefined : await startRedis()
  const url = redis?.url ?? (flags["redis"] as string)
  const admin = new RedisAdmin(url)
  if (flags["profile"] === true) {
    try {
      await profileRun(url, admin)
    } finally {
      await admin.close()
      await redis?.stop()
    }
    return
  }
  log(
    `rrq bench: redis-server ${redisVersion()} at ${url}; jobs ${opt.jobs}, rss jobs ${opt.rssJobs}, reps ${opt.reps}, ` +
      `systems ${opt.only.join(", ")}`
  )
  // a failed step is reported and leaves its cells empty; the rest of the run goes on
  const failures: Array<string> = []
  const step = async (name: string, f: () => Promise<void>) => {
    log(name)
    try {
      await f()
    } catch (e) {
      failures.push(name)
      log(`${name} FAILED: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  try {
    for (let rep = 1; rep <= opt.reps; rep++) {
      // a different order each repetition, so slow drift of the machine does not favour one system
      for (const system of rotate(systems, rep - 1)) {
        await step(`[rep ${rep}/${opt.reps}] ${system}`, async () => record(await suite(system, url), rep))
      }
      if (systems.includes("rrq")) {
        await step(`[rep ${rep}/${opt.reps}] rrq, two worker processes`, async () =>
          record([await twoProcesses("rrq", url, admin)], rep))
      }
      if (opt.only.includes("redisLimit")) {
        await step(`[rep ${rep}/${opt.reps}] redisLimit probe`, async () => {
          await admin.flush()
          record(await runChild(FILES.redisLimit, ["--redis", url, "--jobs", String(Math.max(opt.jobs, 20_000))]), rep)
        })
      }
    }
    for (const system of systems) {
      await step(`[once] ${system}: idle worker over ${opt.window} s`, async () => {
        await admin.flush()
        record(await runChild(FILES[system], ["--redis", url, "--cases", "idle", "--window", String(opt.window)]))
      })
      await step(`[once] ${system}: memory over ${opt.rssJobs} jobs`, async () => record(await memory(system, url, admin)))
    }
  } finally {
    killAll()
    await admin.close()
    await redis?.stop()
  }
  if (failures.length > 0) {
    log(`${failures.length} step(s) failed: ${failures.join("; ")}`)
    process.exitCode = 1
  }
  const report = summarize(startedAt, (Date.now() - t0) / 1000)
  if (opt.out) writeFileSync(opt.out, JSON.stringify({ ...report, cases: all }, null, 2))
  process.stdout.write(table(report))
  if (opt.json) process.stdout.write(`${JSON.stringify(report)}\n`)
}

// --- the report ---------------------------------------------------------------

type Metrics = Record<string, number>

const metric = (system: string, kase: string, field: string): number =>
  median(all.filter((r) => r.system === system && r.case === kase).map((r) => r[field] as number))

const summarize = (startedAt: Date, seconds: number) => {
  const report: Record<string, unknown> = {}
  for (const s of systems) {
    const m: Metrics = {
      bulkEnqueuePerSec: metric(s, "bulk", "perSec"),
      enqueuePerSec: metric(s, "enqueue", "perSec"),
      processPerSec_c1: metric(s, "process:1", "perSec"),
      processPerSec_c10: metric(s, "process:10", "perSec"),
      processPerSec_c100: metric(s, "process:100", "perSec"),
      pickupP50Ms: metric(s, "pickup", "p50Ms"),
      pickupP99Ms: metric(s, "pickup", "p99Ms"),
      pickupOwnProcessP50Ms: metric(s, "pickup", "ownProcessP50Ms"),
      redisCmdsPerJob: metric(s, "process:100", "redisCmdsPerJob"),
      idleCmdsPerSec: metric(s, "idle", "cmdsPerSec"),
      rssMbAfter100k: metric(s, "rss", "rssMbAfter"),
      rssMbAfterWarmup: metric(s, "rss", "rssMbAfterWarmup"),
      rssMbGrowth: metric(s, "rss", "rssMbGrowth"),
      redisBytesPerPendingJob: metric(s, "fill", "redisBytesPerPendingJob"),
      redisBytesPerFinishedJob: metric(s, "fill", "redisBytesPerPendingJob") + metric(s, "rss", "redisBytesPerJobProcessed"),
      redisCpuUsPerJob_c100: metric(s, "process:100", "redisCpuUsPerJob"),
      workerCpuUsPerJob_c100: metric(s, "process:100", "workerCpuUsPerJob")
    }
    if (s === "rrq") m["processPerSec_2proc"] = metric(s, "process:2proc", "perSec")
    report[s] = m
  }
  if (opt.only.includes("redisLimit")) {
    report["redisLimit"] = {
      bulkEnqueuePerSec: metric("redisLimit", "limit", "bulkEnqueuePerSec"),
      processPerSec: metric("redisLimit", "limit", "processPerSec"),
      rrqStoreProcessPerSec: metric("redisLimit", "limit", "rrqStoreProcessPerSec")
    }
  }
  report["targets"] = targets(report)
  report["meta"] = {
    date: startedAt.toISOString(),
    seconds: Math.round(seconds),
    node: process.version,
    redis: redisVersion(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    jobs: opt.jobs,
    c1Jobs: Math.min(opt.jobs, opt.c1Jobs),
    rssJobs: opt.rssJobs,
    reps: opt.reps,
    idleWindowS: opt.window,
    pickupSamples: opt.samples,
    pickupWarmup: opt.pickupWarmup,
    /** 1-minute load average at the start and the end: above ~2 on 2 cores, other work shared the machine. */
    loadAvg: [round(startLoad, 2), round(loadavg()[0]!, 2)]
  }
  return report
}

interface Target {
  readonly name: string
  readonly value: number
  readonly goal: string
  readonly met: boolean
}

const targets = (report: Record<string, unknown>): Array<Target> => {
  const get = (s: string, k: string) => ((report[s] as Metrics | undefined)?.[k]) ?? Number.NaN
  const out: Array<Target> = []
  const ratio = (name: string, a: number, b: number, min: number) =>
    out.push({ name, value: round(a / b, 2), goal: `≥ ${min.toFixed(1)}×`, met: a / b >= min })
  if (!systems.includes("rrq")) return out
  if (systems.includes("bullmq")) {
    ratio("processing c100, rrq / BullMQ", get("rrq", "processPerSec_c100"), get("bullmq", "processPerSec_c100"), 2.0)
  }
  if (systems.includes("beeQueue")) {
    ratio("processing c100, rrq / bee-queue", get("rrq", "processPerSec_c100"), get("beeQueue", "processPerSec_c100"), 1.3)
    ratio("bulk enqueue, rrq / bee-queue", get("rrq", "bulkEnqueuePerSec"), get("beeQueue", "bulkEnqueuePerSec"), 1.0)
  }
  if (systems.includes("bullmq")) {
    const a = get("rrq", "pickupP50Ms")
    const b = get("bullmq", "pickupP50Ms")
    out.push({ name: "pickup p50, rrq vs BullMQ (ms)", value: a, goal: `≤ ${b}`, met: a <= b })
  }
  const idle = get("rrq", "idleCmdsPerSec")
  out.push({ name: "idle worker, Redis commands/s", value: idle, goal: "≤ 20", met: idle <= 20 })
  const growth = get("rrq", "rssMbGrowth")
  out.push({ name: `RSS growth after warm-up over ${opt.rssJobs} jobs (MB)`, value: growth, goal: "≤ 10", met: growth <= 10 })
  return out
}

const fmt = (n: number | undefined) => {
  if (n === undefined || !Number.isFinite(n)) return "–"
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US")
  if (Math.abs(n) >= 100) return n.toFixed(0)
  if (Math.abs(n) >= 10) return n.toFixed(1)
  return n.toFixed(2)
}

const ROWS: ReadonlyArray<readonly [string, string, boolean]> = [
  // [metric, label, higher is better]
  ["bulkEnqueuePerSec", "bulk enqueue (batches of 1,000), jobs/s", true],
  ["enqueuePerSec", "enqueue (100 in flight), jobs/s", true],
  ["processPerSec_c1", "process, concurrency 1, jobs/s", true],
  ["processPerSec_c10", "process, concurrency 10, jobs/s", true],
  ["processPerSec_c100", "process, concurrency 100, jobs/s", true],
  ["processPerSec_2proc", "process, 2 processes × 100, jobs/s", true],
  ["pickupP50Ms", "pickup p50, ms", false],
  ["pickupP99Ms", "pickup p99, ms", false],
  ["pickupOwnProcessP50Ms", "pickup p50, producer in its own process, ms", false],
  ["redisCmdsPerJob", "Redis commands per job (c100, incl. inside Lua)", false],
  ["redisCpuUsPerJob_c100", "Redis CPU per job (c100), µs", false],
  ["workerCpuUsPerJob_c100", "worker CPU per job (c100), µs", false],
  ["idleCmdsPerSec", "idle worker, Redis commands/s", false],
  ["rssMbAfterWarmup", "worker RSS after warm-up, MB", false],
  ["rssMbAfter100k", "worker RSS after all rss jobs, MB", false],
  ["redisBytesPerPendingJob", "Redis memory per pending job, bytes", false],
  ["redisBytesPerFinishedJob", "Redis memory per finished job (kept), bytes", false]
]

const table = (report: Record<string, unknown>) => {
  const cols = [...systems, ...(opt.only.includes("redisLimit") ? ["redisLimit"] : [])]
  const get = (s: string, k: string) => (report[s] as Metrics | undefined)?.[k]
  const header = ["metric", ...cols]
  if (systems.includes("rrq") && systems.includes("bullmq")) header.push("rrq/BullMQ")
  if (systems.includes("rrq") && systems.includes("beeQueue")) header.push("rrq/bee-queue")
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`]
  const limitKey: Record<string, string> = { bulkEnqueuePerSec: "bulkEnqueuePerSec", processPerSec_c100: "processPerSec" }
  for (const [key, label] of ROWS) {
    const cells = cols.map((c) => fmt(c === "redisLimit" ? (limitKey[key] ? get(c, limitKey[key]!) : undefined) : get(c, key)))
    if (cells.every((c) => c === "–")) continue
    const row = [label, ...cells]
    const r = get("rrq", key)
    if (header.includes("rrq/BullMQ")) row.push(ratioCell(r, get("bullmq", key)))
    if (header.includes("rrq/bee-queue")) row.push(ratioCell(r, get("beeQueue", key)))
    lines.push(`| ${row.join(" | ")} |`)
  }
  const limit = report["redisLimit"] as Metrics | undefined
  if (limit) {
    lines.push(
      "",
      `redisLimit: minimal Lua claim + complete (100 a call) ${fmt(limit["processPerSec"])} jobs/s; ` +
        `rrq's JobStore alone (claim + complete, 100 a call, no worker runtime) ${fmt(limit["rrqStoreProcessPerSec"])} jobs/s`
    )
  }
  const ts = report["targets"] as Array<Target>
  if (ts.length > 0) {
    lines.push("", "| target | value | goal | met |", "|---|---:|---:|:---:|")
    for (const t of ts) lines.push(`| ${t.name} | ${fmt(t.value)} | ${t.goal} | ${t.met ? "yes" : "**no**"} |`)
  }
  const meta = report["meta"] as Record<string, unknown>
  lines.push(
    "",
    `${meta["date"]}, ${meta["seconds"]} s; node ${meta["node"]}, redis ${meta["redis"]}, ${meta["cpus"]} × ${meta["cpuModel"]}; ` +
      `jobs ${meta["jobs"]} (c1: ${meta["c1Jobs"]}), rss jobs ${meta["rssJobs"]}, reps ${meta["reps"]} (median), idle window ${meta["idleWindowS"]} s; ` +
      `load average ${(meta["loadAvg"] as Array<number>).join(" → ")}`
  )
  return `${lines.join("\n")}\n`
}

const ratioCell = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? "–" : `${(a / b).toFixed(2)}×`

main().catch((e) => {
  log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  killAll()
  void (redis?.stop() ?? Promise.resolve()).finally(() => process.exit(1))
})
