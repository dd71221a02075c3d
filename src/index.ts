/**
 * rrq: a reliable job queue on Redis for TypeScript, built on Effect.
 */
export * as Client from "./Client.js"
export * as Errors from "./Errors.js"
export * as Handler from "./Handler.js"
export * as Job from "./Job.js"
export * as JobDefinition from "./JobDefinition.js"
export * as JobStore from "./JobStore.js"
export * as Keys from "./Keys.js"
export * as Metrics from "./Metrics.js"
export * as PromiseApi from "./PromiseApi.js"
export * as Redis from "./Redis.js"
export * as Retry from "./Retry.js"
export * as Settings from "./Settings.js"
export * as Worker from "./Worker.js"

export { RrqClient } from "./Client.js"
export { FailJob, RetryJob } from "./Errors.js"
export { defineConfig } from "./Handler.js"
export { RedisClient } from "./Redis.js"
export { RrqSettings } from "./Settings.js"
export { layer as WorkerLayer } from "./Worker.js"
