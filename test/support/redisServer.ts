/**
 * Starts a private redis-server (from PATH) on a free loopback port in a temp
 * dir, and stops it afterwards. Never touches a Redis it did not start.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly dir: string
  readonly process: ChildProcess
  readonly stop: () => Promise<void>
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address()
      const port = typeof address === "object" && address ? address.port : 0
      srv.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const startRedis = async (extraArgs: ReadonlyArray<string> = [], port?: number): Promise<RedisServer> => {
  const p = port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), "rrq-redis-"))
  const child = spawn(
    "redis-server",
    ["--port", String(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  // a process that exits early (a failed bench, a killed test run) still takes its server down
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
  return { url: `redis://127.0.0.1:${p}/0`, port: p, dir, process: child, stop }
}
