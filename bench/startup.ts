/**
 * Start-up costs, each a fresh `node` process on a private redis-server, runs
 * alternating between cases, medians (docs/performance.md, "Start-up"):
 * - the `rrq` binary: `--version`, `job enqueue`, `worker run --burst` on an empty queue;
 * - importing the library: effect-rrq (the built dist/, as an app gets it) against BullMQ and bee-queue;
 * - the RSS of an idle worker after a few seconds: rrq's Promise facade, `rrq worker run`, BullMQ, bee-queue.
 *
 *   npm run build && npx tsx bench/startup.ts [--runs 10] [--idle-ms 3000] [--json]
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { flagNumber, log, median, parseFlags, round, sleep } from "./common.js"
import { startRedis } from "./redisServer.js"

const flags = parseFlags(process.argv.slice(2))
const runs = flagNumber(flags, "runs", 10)
const idleMs = flagNumber(flags, "idle-ms", 3_000)
const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = join(root, "bin/rrq.js")

const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), "rrq-startup-"))
const settings = join(dir, "rrq.config.mjs")
writeFileSync(settings, "export default { handlers: { noop: async () => null } }\n")
const env = { ...process.env, RRQ_REDIS_URL: redis.url, RRQ_KEY_PREFIX: "startup" }

/** Wall-clock seconds of one process, from spawn to exit (it must exit 0). */
const timed = (args: ReadonlyArray<string>, cwd = root): number => {
  const t0 = process.hrtime.bigint()
  execFileSync(process.execPath, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"] })
  return Number(process.hrtime.bigint() - t0) / 1e9
}

/** Medians of `runs` rounds, the cases alternating within each round. */
const medians = (cases: Record<string, () => number>): Record<string, number> => {
  const samples: Record<string, Array<number>> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of Object.entries(cases)) samples[name]!.push(run())
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v), 3)]))
}

log(`start-up: ${runs} runs per case, Node ${process.version}, Redis ${redis.version}`)
const importOf = (pkg: string) => () => timed(["--input-type=module", "-e", `await import(${JSON.stringify(pkg)})`])
const cli = medians({
  nodeBaseline: () => timed(["-e", "0"]),
  version: () => timed([bin, "--version"]),
  jobEnqueue: () => timed([bin, "job", "enqueue", "noop"]),
  workerBurst: () => timed([bin, "worker", "run", "--burst", "--settings", settings])
})
const imports = medians({
  "effect-rrq": importOf("effect-rrq"),
  bullmq: importOf("bullmq"),
  "bee-queue": importOf("bee-queue")
})

/** RSS (MB) of a process `idleMs` after it started, read from /proc. */
const idleRss = async (args: ReadonlyArray<string>): Promise<number> => {
  const child = spawn(process.execPath, args, { env, cwd: root, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += d))
  await sleep(idleMs)
  let rss = Number.NaN
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]
    rss = round(Number(kb) / 1024, 1)
  } catch {
    throw new Error(`idle process ${args.join(" ")} exited early: ${stderr}`)
  }
  child.kill("SIGKILL")
  return rss
}

const idleScripts: Record<string, string> = {
  "rrq (PromiseApi)": `import { PromiseApi } from "effect-rrq"
const rrq = PromiseApi.connect({ redisUrl: process.env.RRQ_REDIS_URL, keyPrefix: "startup" })
await rrq.startWorker({ handlers: { noop: async () => null } })`,
  bullmq: `import { Worker } from "bullmq"
const u = new URL(process.env.RRQ_REDIS_URL)
new Worker("startup", async () => null, { connection: { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null } })`,
  "bee-queue": `import BeeQueue from "bee-queue"
new BeeQueue("startup", { redis: { url: process.env.RRQ_REDIS_URL } }).process(async () => null)`
}
const rss: Record<string, number> = {}
for (const [name, script] of Object.entries(idleScripts)) {
  rss[name] = await idleRss(["--input-type=module", "-e", script])
}
rss["rrq worker run"] = await idleRss([bin, "worker", "run", "--settings", settings])

const table = (title: string, rows: Record<string, number>, unit: string) => {
  log(`\n${title}`)
  for (const [k, v] of Object.entries(rows)) log(`  ${k.padEnd(20)} ${String(v).padStart(7)} ${unit}`)
}
table("rrq binary (median wall-clock)", cli, "s")
table("import (median wall-clock, node start included)", imports, "s")
table(`idle worker RSS after ${idleMs / 1000} s`, rss, "MB")
if (flags.json) process.stdout.write(`${JSON.stringify({ runs, node: process.version, cli, imports, idleRssMb: rss })}\n`)

await redis.stop()
rmSync(dir, { recursive: true, force: true })
