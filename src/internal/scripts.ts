/**
 * Scripts: the Lua transitions of `lua/`, loaded once, run with EVALSHA and a
 * NOSCRIPT fallback to EVAL (after a Redis restart or failover the script
 * cache is empty). `-- @include name` lines pull in `lua/include/name.lua`.
 *
 * Each script's first line declares its flags (Redis ≥ 7). At `maxmemory` under
 * `noeviction`, a plain `#!lua` script is refused whole, before any write (enqueue,
 * claim, recover, DLQ requeue: nothing half-done, no new work taken), while
 * `#!lua flags=allow-oom` ones still run: finishing and keeping work (complete,
 * retry, fail, requeue, extend, cancel) and freeing memory (DLQ purge) must pass;
 * `#!lua flags=no-writes` ones (the DLQ scan of dry runs and counts, stalled: a read of
 * the lease index) write nothing, so Redis never refuses them for memory.
 */
import { createHash } from "node:crypto"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { RedisError } from "../Errors.js"
import { RedisClient } from "../Redis.js"
import { read } from "./lua.js"

export const names = [
  "enqueue",
  "claim",
  "complete",
  "retry",
  "fail",
  "requeue",
  "extend",
  "recover",
  "cancel",
  "dlq-requeue",
  "dlq-purge",
  "dlq-scan",
  "stalled",
  "pause",
  "promote"
] as const
export type Name = (typeof names)[number]

export interface Script {
  readonly name: Name
  readonly source: string
  readonly sha: string
}

/** `text` with every `-- @include name` line replaced by `include(name)`. */
export const expandIncludes = (text: string, include: (name: string) => string): string =>
  text.replace(/^-- @include ([\w-]+)$/gm, (_, name: string) => include(name))

/** The source of a script with its includes expanded. */
export const source = (name: Name): string => expandIncludes(read(`${name}.lua`), (inc) => read(`include/${inc}.lua`))

export const scripts: Readonly<Record<Name, Script>> = Object.fromEntries(
  names.map((name) => {
    const src = source(name)
    return [name, { name, source: src, sha: createHash("sha1").update(src).digest("hex") }]
  })
) as Record<Name, Script>

export interface ScriptsShape {
  /** Runs a script; the reply is the raw Redis reply, decoded by the caller. */
  readonly run: (
    name: Name,
    keys: ReadonlyArray<string>,
    args: ReadonlyArray<string | number>
  ) => Effect.Effect<unknown, RedisError>
}

export class Scripts extends Context.Tag("rrq/Scripts")<Scripts, ScriptsShape>() {}

export const make = Effect.gen(function*() {
  const { redis, use } = yield* RedisClient
  const run = async (script: Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => {
    try {
      return await redis.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("NOSCRIPT")) {
        return await redis.eval(script.source, keys.length, ...keys, ...args)
      }
      throw e
    }
  }
  return {
    run: (name, keys, args) =>
      use(() => run(scripts[name], keys, args), `Script ${name} failed`)
  } satisfies ScriptsShape
})

export const layer: Layer.Layer<Scripts, never, RedisClient> = Layer.effect(Scripts, make)
