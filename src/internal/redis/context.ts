/**
 * What the parts of the Redis store (`../redisStore.ts`) share: the settings, the
 * connection, the scripts, the key layout, and the two ways of talking to Redis.
 * Built once per store; each part reads what it needs from it when it is made.
 */
import type * as Effect from "effect/Effect"
import type { JobStoreError } from "../../Errors.js"
import type * as Keys from "../../Keys.js"
import type { RedisClientShape } from "../../Redis.js"
import type { Settings } from "../../Settings.js"
import type { Name, ScriptsShape } from "../scripts.js"

export interface RedisCtx {
  readonly settings: Settings
  readonly client: RedisClientShape
  readonly scripts: ScriptsShape
  readonly keys: Keys.Keys
  /** A plain command; it fails with the store-neutral JobStoreError, the RedisError as its cause. */
  readonly use: <A>(f: (redis: RedisClientShape["redis"]) => Promise<A>) => Effect.Effect<A, JobStoreError>
  /**
   * A script on the queue's slot (`ARGV[1]` is the queue's key prefix), on the queue's keys
   * unless `scriptKeys` says otherwise; waits for the eviction check (`./evictionCheck.ts`).
   */
  readonly run: (
    name: Name,
    queue: string,
    args: ReadonlyArray<string | number>,
    scriptKeys?: ReadonlyArray<string>
  ) => Effect.Effect<unknown, JobStoreError>
  /** The keys every script of a queue gets: pending, active, dlq, stats. */
  readonly queueKeys: (queue: string) => Array<string>
}
