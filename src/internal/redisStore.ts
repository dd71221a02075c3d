/**
 * The Redis JobStore (`layerRedis`): each transition is one Lua script (lua/*.lua) on the
 * queue's slot; reads are plain commands. Wake-ups, cancels and completion events
 * travel over pub/sub on one dedicated subscriber connection per store.
 *
 * - `redis/context.ts`: `RedisCtx`, what the parts below share;
 * - `redis/evictionCheck.ts`: `run`, every script call, and the maxmemory-policy check it
 *   waits for until the policy has passed once;
 * - `redis/enqueue.ts`: enqueue, each queue's jobs of a call in one script call;
 * - `redis/transitions.ts`: claim, complete, retry, fail, requeue, extend, recover and
 *   cancel, one script each, and the lease index (`leaseIndex`, `stalledQueues`);
 * - `redis/dlq.ts`: the DLQ's bulk operations, chunk by chunk (`dlqChunks.ts`);
 * - `redis/reads.ts`, `redis/heartbeats.ts`: getJob, listJobs, stats, queues and the
 *   worker heartbeats, plain commands;
 * - `redis/channels.ts`: the subscriber connection and the wake, done and cancel channels.
 *
 * This file builds the context and wires the parts into a JobStoreShape. Loading and
 * calling the scripts (EVALSHA, NOSCRIPT fallback) is `scripts.ts`.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { JobStoreError } from "../Errors.js"
import type { JobStoreShape } from "../JobStore.js"
import * as Keys from "../Keys.js"
import { RedisClient } from "../Redis.js"
import { RrqSettings } from "../Settings.js"
import * as Channels from "./redis/channels.js"
import type { RedisCtx } from "./redis/context.js"
import * as Dlq from "./redis/dlq.js"
import * as Enqueue from "./redis/enqueue.js"
import { makeRun } from "./redis/evictionCheck.js"
import * as Heartbeats from "./redis/heartbeats.js"
import * as Reads from "./redis/reads.js"
import * as Transitions from "./redis/transitions.js"
import { Scripts } from "./scripts.js"

export const make: Effect.Effect<JobStoreShape, never, RedisClient | RrqSettings | Scripts | Scope.Scope> = Effect.gen(
  function*() {
    const settings = yield* RrqSettings
    const client = yield* RedisClient
    const scripts = yield* Scripts
    const keys = Keys.make(settings.keyPrefix)
    // Store methods fail with the store-neutral JobStoreError, the RedisError as its cause.
    const use: RedisCtx["use"] = (f) => Effect.mapError(client.use(f), JobStoreError.fromRedis)
    const queueKeys = (queue: string) => {
      const k = keys.queue(queue)
      return [k.pending, k.active, k.dlq, k.stats]
    }
    const run = makeRun({ settings, client, scripts, keys, queueKeys })
    const ctx: RedisCtx = { settings, client, scripts, keys, use, run, queueKeys }
    const signals = yield* Channels.make(ctx)
    return {
      ...Enqueue.make(ctx),
      ...Transitions.make(ctx),
      ...Dlq.make(ctx),
      ...Reads.make(ctx),
      ...signals,
      ...Heartbeats.make(ctx)
    } satisfies JobStoreShape
  }
)
