/**
 * RrqSettings: every tunable of rrq with RRQ's defaults (README, "Settings").
 * Durations are accepted as a `DurationInput`: any `Duration.DurationInput`
 * (`"5 seconds"`, `5000`) or a short string (`"500ms"`, `"2s"`, `"5m"`, `"1h"`),
 * and stored as milliseconds.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { InvalidOptions } from "./Errors.js"
import { isValidQueueName, QUEUE_NAME_RULE } from "./Keys.js"

export interface Settings {
  readonly redisUrl: string
  /** First segment of every key: `rrq:{queue}:...`. */
  readonly keyPrefix: string
  readonly defaultQueue: string
  /** Total attempts allowed per job. */
  readonly defaultMaxRetries: number
  readonly defaultTimeoutMs: number
  /** How long a COMPLETED (or CANCELLED) record is kept; 0 keeps it. */
  readonly defaultResultTtlMs: number
  /** How long a FAILED record in the DLQ is kept; 0 keeps it. */
  readonly dlqTtlMs: number
  readonly maxPayloadBytes: number
  readonly uniqueLockTtlMs: number
  readonly idempotencyTtlMs: number
  readonly leaseMs: number
  readonly recoverIntervalMs: number
  /** Expired leases tolerated per job; one more sends it to the DLQ as lost. */
  readonly maxStalls: number
  readonly concurrency: number
  readonly pollDelayMs: number
  /** Poll delay jitter as a fraction: 0.5 means ± 50%. */
  readonly pollJitter: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  readonly retryJitter: boolean
  readonly shutdownGraceMs: number
  readonly healthIntervalMs: number
  /**
   * Every Redis connection is pinged at this interval; one that leaves a PING without a
   * reply this long is dropped and opened again, failing the commands in flight on it: a
   * half-open connection (a proxy or NAT that stopped forwarding without closing) is
   * noticed. 0: no pings.
   */
  readonly commandTimeoutMs: number
  /** TCP keepalive: the idle time before the first probe on every Redis connection. */
  readonly keepAliveMs: number
  /**
   * A job whose function has no handler here: `fail` dead-letters it at once (RRQ's way);
   * `retry` retries it with the backoff, counting an attempt, so that during a rolling
   * deploy a newer worker can still run it.
   */
  readonly unknownFunction: "fail" | "retry"
  /**
   * Accept a Redis whose `maxmemory-policy` evicts keys (with one warning). Off: rrq
   * refuses to write to such a Redis, which would lose jobs and locks without a trace.
   */
  readonly allowEviction: boolean
}

export const defaults: Settings = {
  redisUrl: "redis://127.0.0.1:6379/0",
  keyPrefix: "rrq",
  defaultQueue: "default",
  defaultMaxRetries: 5,
  defaultTimeoutMs: 300_000,
  defaultResultTtlMs: 86_400_000,
  dlqTtlMs: 7 * 86_400_000,
  maxPayloadBytes: 512 * 1024,
  uniqueLockTtlMs: 6 * 3_600_000,
  idempotencyTtlMs: 86_400_000,
  leaseMs: 30_000,
  recoverIntervalMs: 5_000,
  maxStalls: 2,
  concurrency: 10,
  pollDelayMs: 100,
  pollJitter: 0.5,
  retryBaseMs: 5_000,
  retryMaxMs: 3_600_000,
  retryJitter: false,
  shutdownGraceMs: 10_000,
  healthIntervalMs: 10_000,
  commandTimeoutMs: 5_000,
  keepAliveMs: 10_000,
  unknownFunction: "fail",
  allowEviction: false
}

const durationKeys = [
  "defaultTimeoutMs",
  "defaultResultTtlMs",
  "dlqTtlMs",
  "uniqueLockTtlMs",
  "idempotencyTtlMs",
  "leaseMs",
  "recoverIntervalMs",
  "pollDelayMs",
  "retryBaseMs",
  "retryMaxMs",
  "shutdownGraceMs",
  "healthIntervalMs",
  "commandTimeoutMs",
  "keepAliveMs"
] as const satisfies ReadonlyArray<keyof Settings>

type DurationKey = (typeof durationKeys)[number]

/**
 * A duration as every rrq option takes it: an Effect duration (`"5 seconds"`,
 * `Duration.seconds(5)`), a number of milliseconds, or a short string
 * (`"500ms"`, `"2s"`, `"5m"`, `"1h"`, `"1d"`).
 */
export type DurationInput = Duration.DurationInput | `${number}${"ms" | "s" | "m" | "h" | "d"}`

/** What a user may pass: any subset, durations in any accepted form. */
export type SettingsInput = {
  readonly [K in keyof Settings]?: K extends DurationKey ? DurationInput : Settings[K]
}

const shortDuration = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/
const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/**
 * Parses `500ms`, `2s`, `5m`, `1h`, `1d`, a number of milliseconds (or a numeric
 * string), or any Effect duration. `option` names the option in the error message.
 */
export const parseDuration = (input: DurationInput | string, option?: string): Either.Either<number, InvalidOptions> => {
  const invalid = (why: string) =>
    Either.left(new InvalidOptions({ message: `${option === undefined ? "" : `${option}: `}invalid duration '${String(input)}' ${why}` }))
  // Effect clamps negative (and NaN) durations to zero; such a value is a mistake worth reporting.
  const bad = (n: number | bigint) => (typeof n === "bigint" ? n < 0n : !(n >= 0))
  if (
    (typeof input === "number" && bad(input)) ||
    (typeof input === "bigint" && bad(input)) ||
    (Array.isArray(input) && input.some(bad)) ||
    (typeof input === "string" && /^\s*(-|nan)/i.test(input))
  ) {
    return invalid("(negative or not a number)")
  }
  if (typeof input === "string") {
    const m = shortDuration.exec(input)
    if (m) return Either.right(Number(m[1]) * unitMs[m[2] as keyof typeof unitMs])
    if (/^\s*\d+(\.\d+)?\s*$/.test(input)) return Either.right(Number(input))
  }
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () => invalid("(use e.g. 500ms, 2s, 5m, 1h)"),
    onSome: (d) => Either.right(Duration.toMillis(d))
  })
}

const positiveInts = ["defaultMaxRetries", "maxPayloadBytes", "concurrency"] as const
const nonNegativeInts = ["maxStalls"] as const

const invalid = (message: string) => Either.left(new InvalidOptions({ message }))

const describe = (value: unknown) =>
  typeof value === "string" ? `the string '${value}'` : typeof value === "object" ? (value === null ? "null" : "an object") : `${typeof value} ${String(value)}`

/** What ioredis connects to: a redis:// or rediss:// URL, or the path of a Unix socket. */
const checkRedisUrl = (url: string): string | undefined => {
  if (url.startsWith("/")) return undefined
  if (!/^rediss?:\/\//i.test(url)) {
    return `redisUrl must be a redis:// or rediss:// URL (or a Unix socket path starting with /), got '${redact(url)}'`
  }
  try {
    new URL(url)
    return undefined
  } catch {
    return `redisUrl is not a valid URL: '${redact(url)}'`
  }
}

// a rejected URL may still hold a password: never echo it
const redact = (url: string) => url.replace(/\/\/([^@/]*)@/, "//***@")

/** Merges a partial input over the defaults and validates the result. */
export const resolve = (input: SettingsInput = {}): Either.Either<Settings, InvalidOptions> => {
  const out: Record<string, unknown> = { ...defaults }
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue
    if (!(key in defaults)) return invalid(`unknown setting '${key}'`)
    if ((durationKeys as ReadonlyArray<string>).includes(key)) {
      const ms = parseDuration(value as DurationInput, key)
      if (Either.isLeft(ms)) return Either.left(ms.left)
      if (!(ms.right >= 0) || !Number.isFinite(ms.right)) return invalid(`${key} must be a finite, non-negative duration`)
      out[key] = ms.right
      continue
    }
    // settings files and plain-JS callers are not type-checked: a "5" where 5 belongs is a mistake
    const expected = typeof defaults[key as keyof Settings]
    if (typeof value !== expected) return invalid(`${key} must be a ${expected}, got ${describe(value)}`)
    out[key] = value
  }
  const s = out as unknown as Settings
  for (const key of positiveInts) {
    if (!Number.isInteger(s[key]) || s[key] < 1) return invalid(`${key} must be an integer ≥ 1, got ${s[key]}`)
  }
  for (const key of nonNegativeInts) {
    if (!Number.isInteger(s[key]) || s[key] < 0) return invalid(`${key} must be an integer ≥ 0, got ${s[key]}`)
  }
  for (const key of ["defaultTimeoutMs", "leaseMs", "uniqueLockTtlMs", "idempotencyTtlMs", "pollDelayMs", "recoverIntervalMs", "healthIntervalMs"] as const) {
    if (s[key] < 1) return invalid(`${key} must be at least 1ms`)
  }
  if (!(s.pollJitter >= 0 && s.pollJitter <= 1)) return invalid("pollJitter must be between 0 and 1")
  if (s.keyPrefix.length === 0 || /[{}]/.test(s.keyPrefix)) return invalid("keyPrefix must be non-empty and without braces")
  if (!isValidQueueName(s.defaultQueue)) {
    return invalid(`defaultQueue: invalid queue name '${s.defaultQueue}' (${QUEUE_NAME_RULE})`)
  }
  if (s.unknownFunction !== "fail" && s.unknownFunction !== "retry") {
    return invalid(`unknownFunction must be 'fail' or 'retry', got '${s.unknownFunction}'`)
  }
  const badUrl = checkRedisUrl(s.redisUrl)
  if (badUrl !== undefined) return invalid(badUrl)
  return Either.right(s)
}

export class RrqSettings extends Context.Tag("rrq/RrqSettings")<RrqSettings, Settings>() {}

/** Settings from a partial object over the defaults. */
export const layer = (input: SettingsInput = {}): Layer.Layer<RrqSettings, InvalidOptions> =>
  Layer.effect(RrqSettings, resolve(input))

const keys = Object.keys(defaults) as ReadonlyArray<keyof Settings>

/** Every setting read from a `Config`, under its own name (e.g. `redisUrl`, `concurrency`). */
export const config: Config.Config<SettingsInput> = Config.all(
  Object.fromEntries(
    keys.map((key) => {
      const d = defaults[key]
      const c: Config.Config<unknown> = typeof d === "number" && !(durationKeys as ReadonlyArray<string>).includes(key)
        ? Config.number(key)
        : typeof d === "boolean"
        ? Config.boolean(key)
        : Config.string(key)
      return [key, Config.option(c)]
    })
  )
).pipe(
  Config.map((entries) => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(entries)) {
      if (Option.isSome(v)) out[k] = v.value
    }
    return out as SettingsInput
  })
)

/** Settings from the current ConfigProvider, merged over `overrides`. */
export const layerConfig = (overrides: SettingsInput = {}): Layer.Layer<RrqSettings, InvalidOptions | ConfigError.ConfigError> =>
  Layer.effect(
    RrqSettings,
    Effect.flatMap(config, (fromConfig) => resolve({ ...overrides, ...fromConfig }))
  )

/** The `RRQ_*` environment variables, as a partial input (`RRQ_REDIS_URL` → redisUrl, ...). */
export const fromEnv: Effect.Effect<SettingsInput, ConfigError.ConfigError> = Effect.withConfigProvider(
  config,
  ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase, ConfigProvider.nested("RRQ"))
)

/**
 * Settings from `RRQ_*` environment variables (`RRQ_REDIS_URL`, `RRQ_CONCURRENCY`,
 * `RRQ_LEASE_MS`...), merged over `overrides`. Only rrq's settings read them: the
 * application's own ConfigProvider is left alone.
 */
export const layerFromEnv = (
  overrides: SettingsInput = {}
): Layer.Layer<RrqSettings, InvalidOptions | ConfigError.ConfigError> =>
  Layer.effect(RrqSettings, Effect.flatMap(fromEnv, (env) => resolve({ ...overrides, ...env })))
