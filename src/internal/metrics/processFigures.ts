/**
 * This process's figures for the metrics and the heartbeat: CPU, RSS, uptime and the
 * event loop's lag (p99 over the last completed 10 s window, from perf_hooks' histogram,
 * which samples the loop without a timer of ours on the hot path).
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import type { WorkerProcessFigures } from "../../JobStore.js"

const WINDOW_MS = 10_000

/** Set by the supervisor of `--num-workers` in each child: how many times it restarted that child's slot. */
export const RESTARTS_ENV = "RRQ_WORKER_RESTARTS"

let monitor: ReturnType<typeof monitorEventLoopDelay> | undefined
let lastP99Ns = 0

const startMonitor = () => {
  monitor = monitorEventLoopDelay({ resolution: 20 })
  monitor.enable()
  const rotate = setInterval(() => {
    lastP99Ns = monitor!.percentile(99)
    monitor!.reset()
  }, WINDOW_MS)
  rotate.unref()
}

export interface ProcessFigures {
  readonly rssBytes: number
  /** User + system CPU time since start. */
  readonly cpuSeconds: number
  /** Epoch seconds. */
  readonly startTime: number
  readonly uptimeSeconds: number
  /** p99 of the event loop's delay over the last 10 s window (the current one until a window is complete). */
  readonly eventLoopLagP99Seconds: number
}

/** Starts the lag monitor (once per process) and reads the figures. */
export const read = (): ProcessFigures => {
  if (monitor === undefined) startMonitor()
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  const uptime = process.uptime()
  const p99 = lastP99Ns > 0 ? lastP99Ns : monitor!.percentile(99)
  return {
    rssBytes: memory.rss,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startTime: Math.round(Date.now() / 1000 - uptime),
    uptimeSeconds: uptime,
    // perf_hooks reports the delay beyond the sampling resolution, in ns (NaN before a sample)
    eventLoopLagP99Seconds: Number.isFinite(p99) ? p99 / 1e9 : 0
  }
}

/** CPU % over the interval since the previous call with the same state (for the heartbeat). */
export const cpuPercent = (state: { last?: { cpu: NodeJS.CpuUsage; at: number } }): number => {
  const cpu = process.cpuUsage()
  const at = performance.now()
  const last = state.last
  state.last = { cpu, at }
  if (last === undefined) return 0
  const usedMs = (cpu.user - last.cpu.user + cpu.system - last.cpu.system) / 1000
  return at > last.at ? Math.round((usedMs / (at - last.at)) * 1000) / 10 : 0
}

/** A heartbeat's figures: this process's, and the worker's own counts. */
export const processFigures = (
  cpu: { last?: { cpu: NodeJS.CpuUsage; at: number } },
  counts: { readonly completed: number; readonly failed: number },
  restarts: number
): WorkerProcessFigures => {
  const p = read()
  return {
    rssBytes: p.rssBytes,
    cpuPercent: cpuPercent(cpu),
    eventLoopLagP99Ms: Math.round(p.eventLoopLagP99Seconds * 1e5) / 100,
    uptimeSeconds: Math.round(p.uptimeSeconds),
    completed: counts.completed,
    failed: counts.failed,
    restarts
  }
}
