/**
 * DLQ bulk operations on a big DLQ (docs/reliability.md, "Bulk operations"): on a private
 * redis-server, fills a queue's DLQ with --jobs dead-lettered jobs (test/support/dlqFill.ts),
 * then times the real `rrq dlq stats`, `requeue --all --dry-run`, `requeue --all` and
 * (after a refill) `purge --all`, each from spawn to exit. For each: the script calls Redis
 * logged (SLOWLOG, every command of 1 ms or more) and the longest, and the worst PING
 * latency a second client saw meanwhile (one PING every 5 ms).
 *
 *   npm run build && npx tsx bench/dlqBulk.ts [--jobs 200000] [--json]
 */
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Redis as IORedis } from "ioredis"
import { fillDlq } from "../test/support/dlqFill.js"
import { flagNumber, log, parseFlags, percentile, sleep } from "./common.js"
import { startRedis } from "./redisServer.js"

const flags = parseFlags(process.argv.slice(2))
const jobs = flagNumber(flags, "jobs", 200_000)
const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin/rrq.js")

const redis = await startRedis()
const admin = new IORedis(redis.url)
const pinger = new IORedis(redis.url)
const env = { ...process.env, RRQ_REDIS_URL: redis.url, RRQ_KEY_PREFIX: "bench" }

/** Runs one `rrq` command (output discarded) and measures it. */
const measure = async (args: ReadonlyArray<string>) => {
  await admin.config("SET", "slowlog-max-len", "100000")
  await admin.config("SET", "slowlog-log-slower-than", "1000")
  await admin.slowlog("RESET")
  let running = true
  let worstPing = 0
  const pings = (async () => {
    while (running) {
      const t0 = performance.now()
      await pinger.ping()
      worstPing = Math.max(worstPing, performance.now() - t0)
      await sleep(5)
    }
  })()
  const t0 = performance.now()
  const code = await new Promise<number>((done) =>
    spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "ignore", "inherit"] }).once("exit", (c) => done(c ?? 1))
  )
  const seconds = (performance.now() - t0) / 1000
  running = false
  await pings
  if (code !== 0) throw new Error(`rrq ${args.join(" ")} exited ${code}`)
  const entries = (await admin.slowlog("GET", -1)) as Array<[number, number, number, Array<string>]>
  const scripts = entries.filter((e) => /^eval/i.test(e[3][0]!)).map((e) => e[2] / 1000)
  const result = {
    command: `rrq ${args.join(" ")}`,
    seconds: Math.round(seconds * 100) / 100,
    scriptCallsOver1ms: scripts.length,
    p99ScriptMs: scripts.length > 0 ? Math.round(percentile(scripts, 99) * 10) / 10 : 0,
    longestScriptMs: Math.round(Math.max(0, ...scripts) * 10) / 10,
    worstPingMs: Math.round(worstPing * 10) / 10
  }
  log(JSON.stringify(result))
  return result
}

try {
  log(`filling a DLQ of ${jobs} jobs (Redis ${redis.version})`)
  await fillDlq(admin, "bench", "bulk", jobs)
  const results = [
    await measure(["dlq", "stats"]),
    await measure(["dlq", "requeue", "--all", "--dry-run"]),
    await measure(["dlq", "requeue", "--all"])
  ]
  await admin.flushall()
  await fillDlq(admin, "bench", "bulk", jobs)
  results.push(await measure(["dlq", "purge", "--all"]))
  if (flags.json) process.stdout.write(`${JSON.stringify({ jobs, redis: redis.version, results })}\n`)
  else {
    for (const r of results) {
      process.stdout.write(
        `${r.command.padEnd(34)} ${r.seconds.toFixed(2).padStart(6)} s  scripts ≥ 1 ms: ${String(r.scriptCallsOver1ms).padStart(4)}, p99 ${r.p99ScriptMs} ms, longest ${r.longestScriptMs} ms  worst PING ${r.worstPingMs} ms\n`
      )
    }
  }
} finally {
  await admin.quit()
  await pinger.quit()
  await redis.stop()
}
