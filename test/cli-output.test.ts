/**
 * The rrq binary's own output, run as a subprocess: the version, help text
 * without colour codes when piped, and `worker` commands leaving the bundle.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const BIN = resolve("bin/rrq.js")
const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string }

const rrq = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

const ESC = "\u001b["

describe("rrq binary output", () => {
  it("--version prints the package's version and nothing else", async () => {
    const r = await rrq(["--version"])
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: "" })
  })

  it("help piped to a file or another program has no colour codes", async () => {
    for (const args of [["--help"], ["worker", "run", "--help"], ["job", "enqueue", "--help"]]) {
      const r = await rrq(args)
      expect(r.code, args.join(" ")).toBe(0)
      expect(r.stdout, args.join(" ")).toContain("USAGE")
      expect(r.stdout.includes(ESC), `${args.join(" ")} printed ANSI codes`).toBe(false)
    }
  })

  it("usage errors piped to stderr have no colour codes either, and exit 2", async () => {
    const r = await rrq(["job", "enqueue"])
    expect(r.code).toBe(2)
    expect(r.stderr.length).toBeGreaterThan(0)
    expect(r.stderr.includes(ESC)).toBe(false)
  })

  it("worker run reports a settings file it cannot find in one line, exit 2", async () => {
    const r = await rrq(["worker", "run", "--burst", "--settings", "/nonexistent/rrq.config.mjs"])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toMatch(/nonexistent/)
  })

  it("options the worker refuses, from a settings file, are bad usage: one line, exit 2", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "rrq-out-")), "bad-queue.mjs")
    writeFileSync(file, 'export default { handlers: { a: () => 1 }, queues: ["a{b}"] }\n')
    const r = await rrq(["worker", "run", "--burst", "--settings", file], { RRQ_REDIS_URL: "redis://127.0.0.1:1/0" })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("rrq:"))).toHaveLength(1)
    expect(r.stderr).toMatch(/a\{b\}/)
  })
})
