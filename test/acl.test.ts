/**
 * rrq under a Redis user restricted to its own keys and channels and the commands
 * docs/deployment.md lists (issue 11, defect 13): the whole JobStore contract suite,
 * and the CLI (enqueue, a burst worker, stats), run as that user.
 */
import { Layer } from "effect"
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as JobStore from "../src/JobStore.js"
import * as Redis from "../src/Redis.js"
import * as Settings from "../src/Settings.js"
import { contractSuite, redisBackdoor } from "../src/testing.js"
import { privateRedis } from "./support/index.js"

const redis = privateRedis()

/** The ACL rule of docs/deployment.md, read from the doc itself so the two cannot drift. */
const rule = (): ReadonlyArray<string> => {
  const doc = readFileSync("docs/deployment.md", "utf8")
  const line = /^ACL SETUSER rrq (.+)$/m.exec(doc)?.[1]
  if (line === undefined) throw new Error("docs/deployment.md has no `ACL SETUSER rrq ...` line")
  return line.trim().split(/\s+/)
}

const url = () => `redis://rrq:acl-test-pw@127.0.0.1:${redis.server.port}/0`

beforeAll(async () => {
  // the documented rule, with this test's password and key prefix (`rrq` in the doc)
  const args = rule().map((a) => (a.startsWith(">") ? ">acl-test-pw" : a.replace(/^([~&])rrq:/, "$1rrqacl-")))
  await redis.admin.acl("SETUSER", "rrq", ...args)
})

const prefix = () => `rrqacl-${randomBytes(4).toString("hex")}`

contractSuite("redis, as a user with the documented minimal ACL", () => {
  const settings = Settings.layer({ redisUrl: url(), keyPrefix: prefix() })
  return Layer.mergeAll(JobStore.layerRedis, redisBackdoor).pipe(Layer.provideMerge(Redis.layerFromSettings.pipe(Layer.provideMerge(settings))))
})

describe("the CLI as that user", () => {
  it("enqueues, runs a burst worker and reads stats", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rrq-acl-"))
    const settings = join(dir, "rrq.config.mjs")
    writeFileSync(settings, "export default { handlers: { add: async ({ a, b }) => a + b } }\n")
    const env = { ...process.env, RRQ_REDIS_URL: url(), RRQ_KEY_PREFIX: prefix() }
    const rrq = (args: ReadonlyArray<string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(process.execPath, [resolve("bin/rrq.js"), ...args], { env, timeout: 30_000 }, (e, stdout, stderr) =>
          done({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout, stderr })))
    const enq = await rrq(["job", "enqueue", "add", "--params", '{"a":2,"b":3}'])
    expect(enq.code, enq.stderr).toBe(0)
    const run = await rrq(["worker", "run", "--burst", "--json", "--settings", settings])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).not.toMatch(/NOPERM|no permission/i)
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toMatchObject({ completed: 1 })
    const result = await rrq(["job", "result", enq.stdout.trim()])
    expect(result.stdout.trim()).toBe("5")
    for (const args of [["queue", "stats", "--json"], ["queue", "list"], ["dlq", "stats"], ["check", "--min-workers", "0"]]) {
      const r = await rrq(args)
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0)
    }
  }, 60_000)
})
