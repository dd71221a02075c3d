/**
 * The Redis store's guard against an evicting Redis, and `run`, the way every script
 * call goes through it. The scripts themselves: `../scripts.ts` and `lua/*.lua`.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { JobStoreError } from "../../Errors.js"
import type { RedisCtx } from "./context.js"

/** `RedisCtx.run`: a script on a queue's slot, waiting for the maxmemory-policy check until it has passed once. */
export const makeRun = (
  { client, keys, queueKeys, scripts, settings }: Omit<RedisCtx, "use" | "run">
): RedisCtx["run"] => {
  // An evicting Redis loses jobs silently (records, unique locks, idempotency keys,
  // rrq:queues). Until one look at maxmemory-policy says noeviction, each script waits for
  // that look; an evicting policy refuses them, unless allowEviction accepts the risk
  // (then one warning). Looked at again while refused, so fixing the policy is enough.
  let policyChecked = false
  const checkPolicy: Effect.Effect<void, JobStoreError> = Effect.flatMap(
    Effect.either(client.use((r) => r.info("memory"))),
    (info) => {
      // unreachable: the script call itself says so; no INFO permission: not checked
      if (Either.isLeft(info)) {
        if (!/NOPERM/.test(info.left.message)) return Effect.void
        policyChecked = true
        return Effect.logInfo(`Redis at ${client.displayUrl}: no permission for INFO; maxmemory-policy not checked`)
      }
      const policy = /maxmemory_policy:(\S+)/.exec(info.right)?.[1] ?? "noeviction"
      if (policy === "noeviction") {
        policyChecked = true
        return Effect.void
      }
      const risk = `maxmemory-policy ${policy}: under memory pressure it evicts keys, and rrq would lose jobs, unique locks and idempotency keys without a trace`
      if (settings.allowEviction) {
        policyChecked = true
        return Effect.logWarning(`Redis at ${client.displayUrl} has ${risk} (allowEviction accepts the risk)`)
      }
      return Effect.fail(
        new JobStoreError({
          message: `Redis at ${client.displayUrl} has ${risk}. Set maxmemory-policy noeviction, or the setting allowEviction (RRQ_ALLOW_EVICTION) to accept the risk`,
          reason: "evicting-redis"
        })
      )
    }
  )
  return (name, queue, args, scriptKeys = queueKeys(queue)) => {
    const call = Effect.mapError(scripts.run(name, scriptKeys, [keys.queue(queue).prefix, ...args]), JobStoreError.fromRedis)
    return policyChecked ? call : Effect.zipRight(checkPolicy, call)
  }
}
