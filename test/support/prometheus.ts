/**
 * Prometheus's own tools, from the Debian package `prometheus` (.ci/run installs it):
 * `promtool check metrics` on an exposition, and a real server scraping a target.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./redisServer.js"

/** promtool's verdict on a scrape: exit code and what it printed (nothing when clean). */
export const promtoolCheck = (text: string): { status: number | null; output: string } => {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" })
  if (r.error) throw r.error
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}

/** A sample's value by name and labels, from Prometheus text (undefined when absent). */
export const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const found = new Map<string, string>()
    for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found.set(l[1]!, l[2]!)
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(m[4])
  }
  return undefined
}

export interface PrometheusServer {
  readonly url: string
  readonly query: (promql: string) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>
  readonly stop: () => Promise<void>
}

/** Starts Prometheus scraping `target` (host:port) every second. */
export const startPrometheus = async (target: string): Promise<PrometheusServer> => {
  const dir = mkdtempSync(join(tmpdir(), "rrq-prometheus-"))
  const port = await freePort()
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: rrq\n    static_configs:\n      - targets: ["${target}"]\n`
  )
  const child = spawn("prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let log = ""
  child.stderr!.on("data", (d) => (log = (log + String(d)).slice(-4000)))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${log}`)
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ok) break
    if (i > 300) throw new Error(`prometheus did not get ready: ${log}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    query: async (promql) => {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
      if (body.status !== "success") throw new Error(`query ${promql}: ${JSON.stringify(body)}`)
      return body.data.result
    },
    stop: async () => {
      child.kill("SIGTERM")
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
