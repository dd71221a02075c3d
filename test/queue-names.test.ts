/**
 * Queue names with a colon or unicode are queues, not weights (issue 11, defect 8):
 * weights are written `name,weight`, and a worker told `--queue tenant:42` serves
 * the queue `tenant:42`. Run through the real binary on the harness Redis.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"

const BIN = resolve("bin/rrq.js")
const dir = mkdtempSync(join(tmpdir(), "rrq-qnames-"))
const settings = join(dir, "rrq.config.mjs")
writeFileSync(settings, "export default { handlers: { echo: async ({ v }) => v } }\n")

const rrq = (prefix: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
    execFile(process.execPath, [BIN, ...args], {
      env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix },
      timeout: 30_000
    }, (e, stdout, stderr) => done({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr })))

describe("queue names", () => {
  it("a name with colons or unicode is served as a queue; name,weight weighs it", async () => {
    const p = uniquePrefix("qn")
    for (const queue of ["tenant:42", "courriel-été:✉"]) {
      const enq = await rrq(p, ["job", "enqueue", "echo", "--params", '{"v":1}', "--queue", queue])
      expect(enq.code, enq.stderr).toBe(0)
    }
    const run = await rrq(p, ["worker", "run", "--burst", "--json", "--settings", settings, "--queue", "tenant:42,3", "--queue", "courriel-été:✉"])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toMatchObject({ completed: 2 })
    const stats = await rrq(p, ["queue", "stats", "--json", "--queue", "tenant:42"])
    expect(JSON.parse(stats.stdout)).toMatchObject({ queue: "tenant:42", completedTotal: 1, ready: 0 })
  }, 60_000)

  it("the old weight form (emails:3) names a queue now, and the worker says how to write a weight", async () => {
    const run = await rrq(uniquePrefix("qn"), ["worker", "run", "--burst", "--settings", settings, "--queue", "emails:3"])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain("weights are written 'name,weight'")
    expect(run.stderr).toContain("'emails,3'")
  }, 30_000)

  it("names with braces, commas or whitespace are refused, exit 2", async () => {
    for (const queue of ["a{b}", "a b", "x,y,z"]) {
      const r = await rrq(uniquePrefix("qn"), ["job", "enqueue", "echo", "--queue", queue])
      expect(r.code, `${queue}: ${r.stderr}`).not.toBe(0)
      expect(r.stderr, queue).toMatch(/invalid queue name/)
    }
  }, 30_000)
})
