/** The README's runnable examples keep working (on the in-memory store, no Redis needed). */
import { execFile } from "node:child_process"
import { describe, expect, it } from "vitest"

const run = (file: string): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((done) => {
    const env = { ...process.env }
    delete env.RRQ_REDIS_URL
    execFile(process.execPath, ["--import", "tsx/esm", file], { env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

describe("examples", () => {
  it("npm run demo: 1,000 jobs with retries, dead letters and deferred jobs", async () => {
    const r = await run("examples/quickstart.ts")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("Enqueued 1000 jobs")
    expect(r.stdout).toMatch(/resize_image\s+600\s+0/)
    expect(r.stdout).toMatch(/charge_card\s+64\s+16/)
    expect(r.stdout).toMatch(/daily_report\s+20\s+0/)
    expect(r.stdout).toContain("card reported stolen")
  }, 60_000)

  it("the Promise app", async () => {
    const r = await run("examples/promise-app.ts")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("Hello, Ada!")
    expect(r.stdout).toContain("Rejected as expected")
  }, 60_000)

  it("the Effect app", async () => {
    const r = await run("examples/effect-app.ts")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout + r.stderr).toContain("welcome email delivered")
  }, 60_000)
})
