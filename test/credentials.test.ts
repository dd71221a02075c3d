/**
 * Credentials stay out of logs and process lists (issue 11, defect 11): redaction
 * that does not depend on URL parsing, and `--num-workers` children that get the
 * Redis URL through the environment, not their arguments.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { redactUrl } from "../src/Redis.js"
import { redisUrl, uniquePrefix } from "./support/index.js"

const BIN = resolve("bin/rrq.js")

describe("credentials", () => {
  it("redactUrl hides every password, however it is written, and keeps the rest", () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["redis://:s3cret@h:6379/0", "s3cret", "redis://:***@h:6379/0"],
      ["redis://:pa/ss@h:6379/0", "pa/ss", "redis://:***@h:6379/0"],
      ["redis://alice:p@ss/w?rd#x@h:6379/2", "p@ss/w?rd#x", "redis://alice:***@h:6379/2"],
      ["rediss://alice:pass%2Fword@h", "pass%2Fword", "rediss://alice:***@h"],
      ["redis://alice:@h", "never-there", "redis://alice:***@h"]
    ]
    for (const [url, secret, shown] of cases) {
      expect(redactUrl(url)).toBe(shown)
      expect(redactUrl(url)).not.toContain(secret)
    }
    expect(redactUrl("redis://127.0.0.1:6379/0")).toBe("redis://127.0.0.1:6379/0")
    // a user name alone is no secret (ioredis reads `user@` as a user without a password)
    expect(redactUrl("redis://alice@h:1/0")).toBe("redis://alice@h:1/0")
    expect(redactUrl("/var/run/redis.sock")).toBe("/var/run/redis.sock")
  })

  it("worker run --num-workers: children get the Redis URL from the environment, not their command line", async () => {
    const prefix = uniquePrefix("cred")
    const dir = mkdtempSync(join(tmpdir(), "rrq-cred-"))
    const settings = join(dir, "rrq.config.mjs")
    writeFileSync(settings, "export default { handlers: { add: async ({ a, b }) => a + b } }\n")
    const env: NodeJS.ProcessEnv = { ...process.env, RRQ_KEY_PREFIX: prefix }
    delete env.RRQ_REDIS_URL
    const parent: ChildProcess = spawn(
      process.execPath,
      [BIN, "worker", "run", "--settings", settings, "--num-workers", "2", `--redis-url=${redisUrl()}`],
      { env, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stderr = ""
    parent.stderr!.on("data", (d) => (stderr += d))
    try {
      const deadline = Date.now() + 20_000
      let pids: Array<number> = []
      while (pids.length < 2) {
        if (Date.now() > deadline) throw new Error(`children did not start: ${stderr}`)
        await new Promise((r) => setTimeout(r, 100))
        pids = [...stderr.matchAll(/worker \d started \(pid (\d+)\)/g)].map((m) => Number(m[1]))
      }
      for (const pid of pids) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        expect(argv.join(" ")).not.toContain("--redis-url")
        expect(argv.join(" ")).not.toContain(redisUrl())
      }
      // and they reach that Redis: a job enqueued there completes
      const enqueue = await new Promise<string>((done, fail) =>
        execFile(process.execPath, [BIN, "job", "enqueue", "add", "--params", '{"a":1,"b":2}', "--redis-url", redisUrl()], { env, timeout: 20_000 }, (e, out, err) =>
          e ? fail(new Error(err)) : done(out.trim()))
      )
      const result = await new Promise<string>((done, fail) =>
        execFile(process.execPath, [BIN, "job", "result", enqueue, "--wait", "15s", "--redis-url", redisUrl()], { env, timeout: 20_000 }, (e, out, err) =>
          e ? fail(new Error(`${err}\n${stderr}`)) : done(out.trim()))
      )
      expect(result).toBe("3")
    } finally {
      parent.kill("SIGTERM")
      await new Promise((r) => (parent.exitCode !== null ? r(null) : parent.once("exit", r)))
    }
  }, 60_000)
})
