/**
 * Shared by every bench process: command-line parsing, clocks, statistics,
 * Redis bookkeeping (INFO commandstats / cpu) and the one-line result protocol
 * between a child (`bench/rrq.ts`, ...) and `bench/run.ts`.
 */
import { Redis } from "ioredis"

/** A child prints exactly one line starting with this, followed by JSON; anything else is logging. */
export const RESULT_PREFIX = "BENCH_RESULT "

export type Flags = Readonly<Record<string, string | true>>

/** `--name value`, `--name=value` and bare `--flag` (true). */
export const parseFlags = (argv: ReadonlyArray<string>): Flags => {
  const out: Record<string, string | true> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'`)
    const eq = arg.indexOf("=")
    if (eq > 0) {
      out[arg.slice(2, eq)] = arg.slice(eq + 1)
      continue
    }
    const next = argv[i + 1]
    if (next !== undefined && !next.startsWith("--")) {
      out[arg.slice(2)] = next
      i++
    } else {
      out[arg.slice(2)] = true
    }
  }
  return out
}

export const flagString = (flags: Flags, name: string, fallback: string): string => {
  const v = flags[name]
  return typeof v === "string" ? v : fallback
}

export const flagNumber = (flags: Flags, name: string, fallback: number): number => {
  const v = flags[name]
  if (v === undefined) return fallback
  const n = Number(v)
  if (typeof v !== "string" || !Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number`)
  return n
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on this machine. */
export const now = (): number => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const log = (line: string) => process.stderr.write(`${line}\n`)

/** Nearest-rank percentile of unsorted samples. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export const median = (values: ReadonlyArray<number>): number => {
  const finite = values.filter((v) => Number.isFinite(v))
  if (finite.length === 0) return Number.NaN
  const sorted = [...finite].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const round = (n: number, digits = 0) => {
  if (!Number.isFinite(n)) return n
  const f = 10 ** digits
  return Math.round(n * f) / f
}

export const mb = (bytes: number) => round(bytes / 1_048_576, 1)

/** Forces a full GC when the process runs with --expose-gc (the runner passes it). */
export const collectGarbage = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    await sleep(20)
    gc()
  }
}

export const emitResult = (result: Record<string, unknown>) => {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`)
}

/** What INFO says about the work Redis did: calls per command (scripts' inner calls included) and CPU time. */
export interface RedisSnapshot {
  readonly calls: ReadonlyMap<string, number>
  readonly cpuUs: number
  /** used_memory, bytes. */
  readonly memory: number
  readonly at: number
}

export interface RedisDelta {
  /** Sum of command calls, INFO itself excluded. Calls made inside Lua scripts count (Redis counts them). */
  readonly calls: number
  readonly byCommand: Readonly<Record<string, number>>
  /** Redis server CPU time (user + sys), microseconds. */
  readonly cpuUs: number
  /** Change of used_memory, bytes. */
  readonly memory: number
  readonly ms: number
}

/** An admin connection to the bench Redis: flush, snapshots of INFO, nothing else. */
export class RedisAdmin {
  readonly redis: Redis
  constructor(url: string) {
    this.redis = new Redis(url, { connectionName: "bench:admin", maxRetriesPerRequest: 1, lazyConnect: false })
  }

  async flush() {
    await this.redis.flushall()
  }

  async snapshot(): Promise<RedisSnapshot> {
    const text = await this.redis.info("all")
    const calls = new Map<string, number>()
    let cpuUs = 0
    let memory = 0
    for (const line of text.split("\r\n")) {
      if (line.startsWith("used_memory:")) memory = Number(line.slice("used_memory:".length))
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
      if (m) {
        if (m[1] !== "info") calls.set(m[1]!, Number(m[2]))
        continue
      }
      const c = /^used_cpu_(sys|user):([\d.]+)/.exec(line)
      if (c) cpuUs += Number(c[2]) * 1e6
    }
    return { calls, cpuUs, memory, at: now() }
  }

  static delta(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
    const byCommand: Record<string, number> = {}
    let calls = 0
    for (const [cmd, n] of after.calls) {
      const d = n - (before.calls.get(cmd) ?? 0)
      if (d > 0) {
        byCommand[cmd] = d
        calls += d
      }
    }
    return { calls, byCommand, cpuUs: after.cpuUs - before.cpuUs, memory: after.memory - before.memory, ms: after.at - before.at }
  }

  async close() {
    await this.redis.quit().catch(() => this.redis.disconnect())
  }
}

/** The top commands of a delta, per job, for the detail output. */
export const perJobBreakdown = (delta: RedisDelta, jobs: number, top = 8): Record<string, number> =>
  Object.fromEntries(
    Object.entries(delta.byCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([cmd, n]) => [cmd, round(n / jobs, 2)])
  )

/** CLOCK_MONOTONIC in microseconds: the clock of V8 CPU profiles (`startTime`, sample times). */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

/** Process CPU time of this process (user + sys), microseconds. */
export const cpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
