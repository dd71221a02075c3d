import { Layer } from "effect"
import * as JobStore from "../../src/JobStore.js"
import * as Redis from "../../src/Redis.js"
import { contractSuite, redisBackdoor } from "../../src/testing.js"
import { settingsLayer } from "../support/index.js"

contractSuite("redis", () => {
  const settings = settingsLayer()
  const redis = Redis.layerFromSettings.pipe(Layer.provideMerge(settings))
  return Layer.mergeAll(JobStore.layerRedis, redisBackdoor).pipe(Layer.provideMerge(redis))
})
