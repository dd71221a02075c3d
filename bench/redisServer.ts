/**
 * The bench's private redis-server: the test harness's (a free loopback port, a
 * temp dir, no persistence, stopped even when the process exits early), plus the
 * server's version for the report.
 */
import { execFileSync } from "node:child_process"
import * as Harness from "../test/support/redisServer.js"

export interface RedisServer extends Harness.RedisServer {
  readonly version: string
}

export const redisVersion = (): string => {
  try {
    const out = execFileSync("redis-server", ["--version"], { encoding: "utf8" })
    return /v=([\d.]+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    throw new Error("redis-server is not on the PATH: the bench starts its own (apt-get install redis-server)")
  }
}

export const startRedis = async (extraArgs: ReadonlyArray<string> = []): Promise<RedisServer> => {
  const version = redisVersion()
  return { ...(await Harness.startRedis(extraArgs)), version }
}
