import { randomBytes } from "node:crypto"
import { Layer } from "effect"
import { inject } from "vitest"
import * as JobStore from "../../src/JobStore.js"
import * as Redis from "../../src/Redis.js"
import * as Settings from "../../src/Settings.js"

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
