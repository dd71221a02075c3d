/** The options several commands share: `--redis-url`, `--json`, `--queue`, and integer flags that name themselves. */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"

export const redisUrl = Options.text("redis-url").pipe(
  Options.withDescription("Redis URL (default: RRQ_REDIS_URL, then redis://127.0.0.1:6379/0)"),
  Options.withFallbackConfig(Config.string("RRQ_REDIS_URL")),
  Options.optional
)

export const json = Options.boolean("json").pipe(Options.withDescription("print JSON"))

export const queue = Options.text("queue").pipe(Options.withDescription("queue name (default: the default queue)"), Options.optional)

/**
 * An integer flag whose errors name it (`--limit: 'abc' is not an integer`), unlike
 * `Options.integer`'s. `min` refuses smaller values the same way. Bad usage: exit 2.
 */
export const integer = (name: string, options: { readonly min?: number } = {}) =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((text) => {
      const invalid = (why: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${why}`)))
      if (!/^\s*[-+]?\d+\s*$/.test(text)) return invalid(`'${text}' is not an integer`)
      const n = Number(text)
      if (!Number.isSafeInteger(n)) return invalid(`'${text}' is too large`)
      if (options.min !== undefined && n < options.min) return invalid(`must be at least ${options.min}, got ${n}`)
      return Effect.succeed(n)
    })
  )

export const limit = (fallback: number) =>
  integer("limit", { min: 1 }).pipe(Options.withDescription("at most this many entries"), Options.withDefault(fallback))

