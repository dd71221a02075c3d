/**
 * Shutdown while Redis is down (issue 11, defect 4): it ends within the grace plus
 * a bounded drain, says how many outcomes it could not record, and a second signal
 * ends the `rrq worker run` process at once.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import * as Client from "../src/Client.js"
import { RrqClient } from "../src/Client.js"
import * as Store from "../src/JobStore.js"
import * as Redis from "../src/Redis.js"
import * as Settings from "../src/Settings.js"
import * as Worker from "../src/Worker.js"
import { uniquePrefix } from "./support/index.js"
import { type RedisServer, startRedis } from "./support/redisServer.js"

let server: RedisServer | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

const kill = (s: RedisServer) =>
  new Promise<void>((done) => {
    s.process.once("exit", () => done())
    s.process.kill("SIGKILL")
  })

describe("shutdown with Redis down", () => {
  it.live("ends within the grace plus the drain, and counts the outcomes it could not record", () =>
    Effect.gen(function*() {
      server = yield* Effect.promise(() => startRedis())
      const logs: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.map(String).join(" ") : String(message)))
      )
      const settings = Settings.layer({ redisUrl: server.url, keyPrefix: uniquePrefix("down"), shutdownGraceMs: 500 })
      const stack = Client.layer.pipe(
        Layer.provideMerge(Store.layerRedis.pipe(Layer.provideMerge(Layer.merge(Redis.layerFromSettings, settings)))),
        Layer.provideMerge(settings)
      )
      let running = 0
      const elapsed = yield* Effect.gen(function*() {
        const client = yield* RrqClient
        for (let i = 0; i < 3; i++) yield* client.enqueue("slow", {})
        const scope = yield* Scope.make()
        yield* Scope.extend(
          Worker.make({
            handlers: {
              slow: async () => {
                running++
                await new Promise((r) => setTimeout(r, 300))
                return "done"
              }
            }
          }),
          scope
        )
        while (running < 3) yield* Effect.sleep(20)
        yield* Effect.promise(() => kill(server!))
        const t0 = Date.now()
        yield* Scope.close(scope, Exit.void)
        return Date.now() - t0
      }).pipe(Effect.provide(stack), Effect.provide(capture))
      // grace 0.5 s + at most the 5 s drain (1 s while Redis is known away); it never ended before
      expect(elapsed).toBeLessThan(6_500)
      expect(logs.some((l) => /stopped with 3 outcome\(s\) not recorded/.test(l)), logs.join("\n")).toBe(true)
    }), 30_000)

  it("rrq worker run: SIGTERM with Redis down ends within the bound; a second one at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rrq-down-"))
    const settings = join(dir, "rrq.config.mjs")
    writeFileSync(
      settings,
      "export default { handlers: { slow: () => new Promise((r) => setTimeout(() => r(1), 300)) }, settings: { shutdownGraceMs: 500 } }\n"
    )
    for (const signals of [1, 2]) {
      server = await startRedis()
      const env = { ...process.env, RRQ_REDIS_URL: server.url, RRQ_KEY_PREFIX: uniquePrefix("down") }
      const bin = resolve("bin/rrq.js")
      await new Promise<void>((done, fail) => {
        const p = spawn(process.execPath, [bin, "job", "enqueue", "slow"], { env, stdio: "ignore" })
        p.once("exit", (code) => (code === 0 ? done() : fail(new Error(`enqueue exited ${code}`))))
      })
      const worker = spawn(process.execPath, [bin, "worker", "run", "--settings", settings], { env, stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      worker.stderr!.on("data", (d) => (stderr += d))
      const deadline = Date.now() + 15_000
      while (!/started: queues/.test(stderr)) {
        if (Date.now() > deadline) throw new Error(`worker did not start: ${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      await new Promise((r) => setTimeout(r, 100))
      await kill(server)
      server = undefined
      const exited = new Promise<number>((done) => worker.once("exit", (code) => done(code ?? 1)))
      const t0 = Date.now()
      worker.kill("SIGTERM")
      if (signals === 2) {
        await new Promise((r) => setTimeout(r, 200))
        worker.kill("SIGTERM")
      }
      await exited
      const ms = Date.now() - t0
      if (signals === 1) expect(ms, stderr).toBeLessThan(7_000)
      else expect(ms, stderr).toBeLessThan(2_000)
    }
  }, 60_000)
})
