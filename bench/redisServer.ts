/**
 * Starts a private redis-server (from PATH) on a free loopback port in a temp
 * dir, without persistence, and stops it afterwards — also when the bench
 * process exits early. Never touches a Redis it did not start.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "../test/support/redisServer.js"

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly version: string
  readonly process: ChildProcess
  readonly stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const redisVersion = (): string => {
  try {
    const out = execFileSync("redis-server", ["--version"], { encoding: "utf8" })
    return /v=([\d.]+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    throw new Error("redis-server is not on the PATH: the bench starts its own (apt-get install redis-server)")
  }
}

export const startRedis = async (extraArgs: ReadonlyArray<string> = []): Promise<RedisServer> => {
  const version = redisVersion()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "rrq-bench-redis-"))
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  const killOnExit = () => {
    if (child.exitCode === null) child.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  }
  process.on("exit", killOnExit)
  let output = ""
  child.stdout?.on("data", (d) => (output += d))
  child.stderr?.on("data", (d) => (output += d))
  const deadline = Date.now() + 10_000
  while (!output.includes("Ready to accept connections")) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`)
    if (Date.now() > deadline) {
      killOnExit()
      throw new Error(`redis-server did not start: ${output}`)
    }
    await sleep(20)
  }
  // keep the pipes drained, but stop buffering the log
  child.stdout?.removeAllListeners("data").resume()
  child.stderr?.removeAllListeners("data").resume()
  const stop = async () => {
    process.removeListener("exit", killOnExit)
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r))
      child.kill("SIGTERM")
      await Promise.race([exited, sleep(5_000)])
      if (child.exitCode === null) child.kill("SIGKILL")
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return { url: `redis://127.0.0.1:${port}/0`, port, version, process: child, stop }
}
