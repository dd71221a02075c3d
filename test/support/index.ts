import { randomBytes } from "node:crypto"
import { Layer } from "effect"
import { Redis as IORedis } from "ioredis"
import { afterAll, beforeAll, inject } from "vitest"
import * as Client from "../../src/Client.js"
import * as JobStore from "../../src/JobStore.js"
import * as Redis from "../../src/Redis.js"
import * as Settings from "../../src/Settings.js"
import { type RedisServer, startRedis } from "./redisServer.js"

export const redisUrl = (): string => inject("redisUrl")

/** A key prefix of its own for each test file (or test), so files never collide. */
export const uniquePrefix = (name = "t"): string => `rrqtest-${name}-${randomBytes(4).toString("hex")}`

/** Settings over the harness Redis with a fresh key prefix. */
export const settingsLayer = (input: Settings.SettingsInput = {}) =>
  Settings.layer({ redisUrl: redisUrl(), keyPrefix: uniquePrefix(), ...input })

/** RedisClient + RrqSettings + a Redis JobStore on the harness server. */
export const redisStoreLayer = (input: Settings.SettingsInput = {}) => {
  const settings = settingsLayer(input)
  const redis = Redis.layerFromSettings.pipe(Layer.provide(settings))
  return JobStore.layerRedis.pipe(Layer.provideMerge(Layer.merge(redis, settings)))
}

/** An RrqClient over `redisStoreLayer(input)` (pass `redisUrl` for a server of the test's own). */
export const clientLayer = (input: Settings.SettingsInput = {}) => Client.layer.pipe(Layer.provideMerge(redisStoreLayer(input)))

/**
 * A redis-server of the test file's own, started with `args` before its tests and
 * stopped after them, with an admin connection for setting it up from outside rrq.
 */
export const privateRedis = (args: ReadonlyArray<string> = []) => {
  const handle = {} as { server: RedisServer; admin: IORedis }
  beforeAll(async () => {
    handle.server = await startRedis(args)
    handle.admin = new IORedis(handle.server.url, { maxRetriesPerRequest: 1 })
  })
  afterAll(async () => {
    await handle.admin?.quit().catch(() => handle.admin.disconnect())
    await handle.server?.stop()
  })
  return handle
}
