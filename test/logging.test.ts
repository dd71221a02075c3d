/**
 * Log formats of the real `rrq` binary: `--log-format json` writes one JSON object per line,
 * with the worker's and the job's annotations as fields, and never a password; `--log-level`,
 * `RRQ_LOG_LEVEL` and `RRQ_LOG_FORMAT` are honoured and checked.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"
import { type RedisServer, startRedis } from "./support/redisServer.js"

const BIN = resolve("bin/rrq.js")
const dir = mkdtempSync(join(tmpdir(), "rrq-logging-"))
const settings = join(dir, "rrq.config.mjs")
writeFileSync(
  settings,
  `import { Effect } from ${JSON.stringify(resolve("node_modules/effect/dist/esm/index.js"))}
import { defineConfig } from ${JSON.stringify(resolve("dist/index.js"))}
export default defineConfig({
  handlers: { greet: ({ name }) => Effect.as(Effect.logInfo("hello " + name), "done") },
  settings: { pollDelayMs: 50 }
})
`
)

const rrq = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    child.on("exit", (code) => done({ code: code ?? 1, stdout, stderr }))
  })

describe("log formats", () => {
  // a server of its own that wants a password (no admin connection: it would have none)
  const redis = {} as { server: RedisServer }
  beforeAll(async () => void (redis.server = await startRedis(["--requirepass", "s3cret-pass"])))
  afterAll(() => redis.server?.stop())

  it("--log-format json: every line is an object with the annotations as fields, and no password", async () => {
    const prefix = uniquePrefix("log")
    const url = redis.server.url.replace("redis://", "redis://default:s3cret-pass@")
    const env = { RRQ_REDIS_URL: url, RRQ_KEY_PREFIX: prefix }
    const enqueued = await rrq(["job", "enqueue", "greet", "--params", '{"name":"Ada"}', "--json"], env)
    expect(enqueued.code, enqueued.stderr).toBe(0)
    const { id } = JSON.parse(enqueued.stdout) as { id: string }
    const run = await rrq(["worker", "run", "--settings", settings, "--burst", "--log-format", "json"], env)
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stderr.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThanOrEqual(3)
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(["time", "level", "message", "fiber"]))
    const started = lines.find((l) => /^Worker \S+ started/.test(String(l.message)))!
    expect(started.workerId).toMatch(/\S+-\d+-[0-9a-f]{6}/)
    const hello = lines.find((l) => l.message === "hello Ada")!
    expect(hello).toMatchObject({ level: "INFO", queue: "default", jobId: id, attempt: 1, function: "greet", workerId: started.workerId })
    expect(run.stderr + run.stdout + enqueued.stderr).not.toContain("s3cret-pass")
  }, 30_000)

  it("--log-level warning and RRQ_LOG_LEVEL leave out the info lines; a bad RRQ_LOG_FORMAT is bad usage", async () => {
    const env = { RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: uniquePrefix("log") }
    const quiet = await rrq(["worker", "run", "--settings", settings, "--burst", "--log-level", "warning"], env)
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).not.toMatch(/level=INFO/)
    const quietEnv = await rrq(["worker", "run", "--settings", settings, "--burst"], { ...env, RRQ_LOG_LEVEL: "error" })
    expect(quietEnv.code, quietEnv.stderr).toBe(0)
    expect(quietEnv.stderr).toBe("")
    const loud = await rrq(["worker", "run", "--settings", settings, "--burst"], { ...env, RRQ_LOG_FORMAT: "json" })
    expect(loud.stderr.trim().split("\n").every((l) => typeof JSON.parse(l) === "object")).toBe(true)
    const bad = await rrq(["queue", "list"], { ...env, RRQ_LOG_FORMAT: "xml" })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/RRQ_LOG_FORMAT: 'xml' is not one of logfmt, pretty, json/)
    const badFlag = await rrq(["worker", "run", "--settings", settings, "--log-format", "xml"], env)
    expect(badFlag.code).toBe(2)
  }, 30_000)
})
