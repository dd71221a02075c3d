/**
 * The Promise facade as a library should behave: rrq's log lines never reach the
 * app's stdout; they go to stderr, from `logLevel` up (default: warnings).
 */
import { execFile } from "node:child_process"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { InvalidOptions } from "../src/Errors.js"
import * as PromiseApi from "../src/PromiseApi.js"

const DIST = resolve("dist/index.js")

/** A child process that runs one job through the facade on the memory store and prints its result. */
const app = (connectOptions: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((done) => {
    const script = `
import { PromiseApi } from ${JSON.stringify(DIST)}
const rrq = PromiseApi.connect({ store: "memory", ...${JSON.stringify(connectOptions)} })
const worker = await rrq.startWorker({ handlers: { hello: async () => "hi" } })
const job = await rrq.enqueue("hello", {})
console.log("result:", await rrq.waitForResult(job, { timeout: "5s" }))
await worker.stop()
await rrq.close()
`
    execFile(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

describe("PromiseApi logging", () => {
  it("by default: nothing of rrq's on stdout, and info lines (worker started) not at all", async () => {
    const r = await app({})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe("result: hi\n")
    expect(r.stderr).not.toContain("started")
  }, 30_000)

  it("logLevel 'info': rrq's lines go to stderr as logfmt, stdout stays the app's", async () => {
    const r = await app({ logLevel: "info" })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe("result: hi\n")
    expect(r.stderr).toMatch(/^timestamp=\S+ level=INFO fiber=\S+ message="Worker \S+ started: queues default, concurrency 10" workerId=\S+$/m)
  }, 30_000)

  it("logLevel 'none': nothing at all", async () => {
    const r = await app({ logLevel: "none" })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe("result: hi\n")
    expect(r.stderr).toBe("")
  }, 30_000)

  it("an unknown logLevel or store is refused at once with InvalidOptions", () => {
    expect(() => PromiseApi.connect({ logLevel: "loud" as never })).toThrow(InvalidOptions)
    expect(() => PromiseApi.connect({ logLevel: "loud" as never })).toThrow("logLevel must be one of none, error, warning, info, debug")
    expect(() => PromiseApi.connect({ store: "disk" as never })).toThrow("store must be 'redis' or 'memory'")
  })
})
