/**
 * Flow control through the real `rrq` binary: pause and resume with a worker process running (a
 * paused queue takes enqueues and none of its jobs starts; resume wakes the worker at once), and
 * promote (a deferred job, or every one of a queue, runs now).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"

const BIN = resolve("bin/rrq.js")
const dir = mkdtempSync(join(tmpdir(), "rrq-pause-"))
const settings = join(dir, "rrq.config.mjs")
writeFileSync(
  settings,
  `import { defineConfig } from ${JSON.stringify(resolve("dist/index.js"))}
export default defineConfig({ handlers: { add: async ({ a, b }) => a + b }, settings: { pollDelayMs: 50 } })
`
)

const children: Array<ChildProcess> = []
afterAll(() => children.forEach((c) => c.kill("SIGKILL")))

const rrq = (prefix: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix } }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

const stats = async (prefix: string) =>
  JSON.parse((await rrq(prefix, ["queue", "stats", "--queue", "default", "--json"])).stdout) as Record<string, unknown>

describe("rrq queue pause / resume", () => {
  it("a paused queue takes enqueues and starts none of them; resume runs them at once", async () => {
    const prefix = uniquePrefix("pause")
    const worker = spawn(process.execPath, [BIN, "worker", "run", "--settings", settings], {
      env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix },
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(worker)
    for (let i = 0; i < 100 && (await rrq(prefix, ["check"])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100))

    const paused = await rrq(prefix, ["queue", "pause", "default", "--json"])
    expect(paused.code, paused.stderr).toBe(0)
    expect(JSON.parse(paused.stdout)).toEqual({ queue: "default", paused: true, changed: true })
    expect((await rrq(prefix, ["queue", "pause", "default"])).stdout).toMatch(/was paused already/)
    for (let i = 0; i < 3; i++) expect((await rrq(prefix, ["job", "enqueue", "add", "--params", '{"a":1,"b":2}'])).code).toBe(0)
    await new Promise((r) => setTimeout(r, 1_500))
    expect(await stats(prefix)).toMatchObject({ ready: 3, active: 0, completedTotal: 0, paused: true })
    expect((await rrq(prefix, ["queue", "stats", "--queue", "default"])).stdout).toMatch(/STATE[\s\S]*paused/)

    const resumedAt = Date.now()
    const resumed = await rrq(prefix, ["queue", "resume", "default", "--json"])
    expect(JSON.parse(resumed.stdout)).toEqual({ queue: "default", paused: false, changed: true })
    let done = await stats(prefix)
    while (done.completedTotal !== 3 && Date.now() - resumedAt < 10_000) done = await stats(prefix)
    expect(done).toMatchObject({ completedTotal: 3, paused: false })
    // resume publishes a wake-up: the worker claims at once (the time includes the CLI runs)
    console.log(`3 jobs completed ${Date.now() - resumedAt} ms after resume (CLI start included)`)

    const bad = await rrq(prefix, ["queue", "pause", "a{b}"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/invalid queue name/)
    worker.kill("SIGTERM")
  }, 60_000)
})

describe("rrq job promote", () => {
  it("runs a deferred job now, or with --all every one of a queue; bad usage exits 2", async () => {
    const prefix = uniquePrefix("promote")
    const enqueue = async () =>
      (JSON.parse((await rrq(prefix, ["job", "enqueue", "add", "--params", '{"a":1,"b":2}', "--defer-by", "1h", "--json"])).stdout) as { id: string }).id
    const one = await enqueue()
    await enqueue()
    await enqueue()
    const promoted = await rrq(prefix, ["job", "promote", one, "--json"])
    expect(promoted.code, promoted.stderr).toBe(0)
    expect(JSON.parse(promoted.stdout)).toEqual({ id: one, queue: "default", promoted: 1 })
    expect(JSON.parse((await rrq(prefix, ["job", "promote", one, "--json"])).stdout)).toMatchObject({ promoted: 0 })
    const shown = JSON.parse((await rrq(prefix, ["job", "show", one, "--json"])).stdout) as { nextRunAt: number }
    expect(shown.nextRunAt).toBeLessThanOrEqual(Date.now())
    expect(await stats(prefix)).toMatchObject({ ready: 1, delayed: 2 })
    const all = await rrq(prefix, ["job", "promote", "--all", "--queue", "default", "--json"])
    expect(JSON.parse(all.stdout)).toEqual({ queue: "default", promoted: 2 })
    expect(await stats(prefix)).toMatchObject({ ready: 3, delayed: 0 })
    expect((await rrq(prefix, ["job", "promote"])).code).toBe(2)
    expect((await rrq(prefix, ["job", "promote", one, "--all"])).code).toBe(2)
  }, 60_000)
})
