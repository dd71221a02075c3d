/**
 * One private redis-server for the whole test run (unless RRQ_TEST_REDIS_URL
 * names one); each test file isolates itself with its own key prefix.
 */
import type { TestProject } from "vitest/node"
import { startRedis } from "./redisServer.js"

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.RRQ_TEST_REDIS_URL
  if (external) {
    project.provide("redisUrl", external)
    return
  }
  const server = await startRedis()
  project.provide("redisUrl", server.url)
  return () => server.stop()
}
