/**
 * Settings: RRQ's defaults, partial overrides, the accepted duration forms,
 * validation (InvalidOptions), and the Config / environment layers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Either, Layer } from "effect"
import { InvalidOptions } from "../src/Errors.js"
import * as Settings from "../src/Settings.js"

const right = (input: Settings.SettingsInput = {}): Settings.Settings => {
  const r = Settings.resolve(input)
  if (Either.isLeft(r)) throw new Error(`expected valid settings, got InvalidOptions: ${r.left.message}`)
  return r.right
}

/** Asserts the input is rejected with InvalidOptions and returns its message. */
const rejected = (input: Settings.SettingsInput): string => {
  const r = Settings.resolve(input)
  if (Either.isRight(r)) throw new Error(`expected InvalidOptions for ${String(JSON.stringify(input))}, got valid settings`)
  expect(r.left).toBeInstanceOf(InvalidOptions)
  expect(r.left._tag).toBe("InvalidOptions")
  return r.left.message
}

const parsed = (input: Settings.DurationInput | string) => Settings.parseDuration(input)

/** Input a type-checked caller could not write: what settings files and RRQ_* variables may hold. */
const loose = (input: Record<string, unknown>) => input as Settings.SettingsInput

const SECOND = 1_000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * Runs `f` with exactly these RRQ_* variables (any other RRQ_* variable is hidden) plus the
 * other given variables, restoring the environment afterwards.
 */
const withEnv = <A, E, R>(vars: Record<string, string>, f: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved: Record<string, string | undefined> = {}
      for (const k of Object.keys(process.env)) {
        if (k.startsWith("RRQ_")) {
          saved[k] = process.env[k]
          delete process.env[k]
        }
      }
      for (const [k, v] of Object.entries(vars)) {
        if (!(k in saved)) saved[k] = process.env[k]
        process.env[k] = v
      }
      return saved
    }),
    () => f,
    (saved) =>
      Effect.sync(() => {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      })
  )

describe("Settings.resolve", () => {
  it("defaults are RRQ's", () => {
    const s = right()
    expect(s).toEqual(Settings.defaults)
    expect(s).toEqual({
      redisUrl: "redis://127.0.0.1:6379/0",
      keyPrefix: "rrq",
      defaultQueue: "default",
      defaultMaxRetries: 5,
      defaultTimeoutMs: 300 * SECOND,
      defaultResultTtlMs: DAY,
      dlqTtlMs: 7 * DAY,
      maxPayloadBytes: 512 * 1024,
      uniqueLockTtlMs: 6 * HOUR,
      idempotencyTtlMs: DAY,
      leaseMs: 30 * SECOND,
      recoverIntervalMs: 5 * SECOND,
      maxStalls: 2,
      concurrency: 10,
      pollDelayMs: 100,
      pollJitter: 0.5,
      retryBaseMs: 5 * SECOND,
      retryMaxMs: HOUR,
      retryJitter: false,
      shutdownGraceMs: 10 * SECOND,
      healthIntervalMs: 10 * SECOND,
      commandTimeoutMs: 5 * SECOND,
      keepAliveMs: 10 * SECOND,
      unknownFunction: "fail",
      allowEviction: false
    })
  })

  it("a partial input changes only the settings it names, and never the shared defaults", () => {
    const before = { ...Settings.defaults }
    const s = right({ concurrency: 3, keyPrefix: "app", defaultMaxRetries: 1, retryJitter: true, maxStalls: 0 })
    expect(s).toEqual({ ...before, concurrency: 3, keyPrefix: "app", defaultMaxRetries: 1, retryJitter: true, maxStalls: 0 })
    expect(Settings.defaults).toEqual(before)
    expect(right()).toEqual(before)
  })

  it("an explicitly undefined value keeps the default", () => {
    const input = { concurrency: undefined, leaseMs: undefined } as unknown as Settings.SettingsInput
    expect(right(input)).toEqual(Settings.defaults)
  })

  it("durations accept 500ms, 2s, 5m, 1h, 1d, numbers of ms, numeric strings and Effect durations", () => {
    const s = right(loose({
      pollDelayMs: "500ms",
      leaseMs: "2s",
      recoverIntervalMs: "5m",
      retryMaxMs: "1h",
      dlqTtlMs: "1d",
      defaultTimeoutMs: 1_500,
      retryBaseMs: "250",
      shutdownGraceMs: "5 seconds",
      healthIntervalMs: Duration.seconds(3),
      uniqueLockTtlMs: "1.5s",
      idempotencyTtlMs: " 2 m ",
      defaultResultTtlMs: 0
    }))
    expect(s).toMatchObject({
      pollDelayMs: 500,
      leaseMs: 2 * SECOND,
      recoverIntervalMs: 5 * MINUTE,
      retryMaxMs: HOUR,
      dlqTtlMs: DAY,
      defaultTimeoutMs: 1_500,
      retryBaseMs: 250,
      shutdownGraceMs: 5 * SECOND,
      healthIntervalMs: 3 * SECOND,
      uniqueLockTtlMs: 1_500,
      idempotencyTtlMs: 2 * MINUTE,
      defaultResultTtlMs: 0
    })
  })

  it("negative durations are rejected, in every form", () => {
    expect(rejected({ leaseMs: -1 })).toContain("leaseMs")
    expect(rejected({ shutdownGraceMs: "-5s" })).toContain("shutdownGraceMs")
    expect(rejected({ retryBaseMs: "-5 seconds" })).toContain("retryBaseMs")
    expect(rejected(loose({ defaultResultTtlMs: " -1" }))).toContain("defaultResultTtlMs")
    expect(rejected({ pollDelayMs: -0.5 })).toContain("pollDelayMs")
  })

  it("durations that are not durations are rejected", () => {
    expect(rejected(loose({ leaseMs: "soon" }))).toBe("leaseMs: invalid duration 'soon' (use e.g. 500ms, 2s, 5m, 1h)")
    expect(rejected(loose({ leaseMs: "5 parsecs" }))).toContain("leaseMs")
    expect(rejected(loose({ leaseMs: "" }))).toContain("leaseMs")
    expect(rejected(loose({ leaseMs: true }))).toContain("leaseMs")
    expect(rejected({ defaultTimeoutMs: Infinity })).toContain("defaultTimeoutMs")
    expect(rejected({ defaultTimeoutMs: Duration.infinity })).toContain("defaultTimeoutMs")
  })

  it("durations that must be positive reject 0", () => {
    for (const key of ["leaseMs", "uniqueLockTtlMs", "idempotencyTtlMs", "pollDelayMs", "recoverIntervalMs", "healthIntervalMs"] as const) {
      expect(rejected({ [key]: 0 })).toContain(key)
    }
    // 0 is meaningful for these: keep forever / no grace / no backoff
    expect(right({ defaultResultTtlMs: 0, dlqTtlMs: 0, shutdownGraceMs: 0, retryBaseMs: 0 })).toMatchObject({
      defaultResultTtlMs: 0,
      dlqTtlMs: 0,
      shutdownGraceMs: 0,
      retryBaseMs: 0
    })
  })

  it("counts must be integers in range", () => {
    expect(rejected({ concurrency: 0 })).toContain("concurrency")
    expect(rejected({ concurrency: -3 })).toContain("concurrency")
    expect(rejected({ concurrency: 1.5 })).toContain("concurrency")
    expect(rejected({ concurrency: NaN })).toContain("concurrency")
    expect(rejected({ defaultMaxRetries: 0 })).toContain("defaultMaxRetries")
    expect(rejected({ maxPayloadBytes: 0 })).toContain("maxPayloadBytes")
    expect(rejected({ maxStalls: -1 })).toContain("maxStalls")
    expect(rejected({ maxStalls: 0.5 })).toContain("maxStalls")
    expect(right({ concurrency: 1, defaultMaxRetries: 1, maxStalls: 0 })).toMatchObject({
      concurrency: 1,
      defaultMaxRetries: 1,
      maxStalls: 0
    })
  })

  it("an unknown setting name is rejected", () => {
    expect(rejected({ concurency: 5 } as unknown as Settings.SettingsInput)).toContain("concurency")
    expect(rejected({ redisURL: "redis://x" } as unknown as Settings.SettingsInput)).toContain("redisURL")
  })

  it("pollJitter must be a fraction between 0 and 1", () => {
    expect(rejected({ pollJitter: 2 })).toContain("pollJitter")
    expect(rejected({ pollJitter: -0.1 })).toContain("pollJitter")
    expect(rejected({ pollJitter: NaN })).toContain("pollJitter")
    expect(right({ pollJitter: 0 }).pollJitter).toBe(0)
    expect(right({ pollJitter: 1 }).pollJitter).toBe(1)
  })

  it("keyPrefix must be non-empty and without braces (they would break the queue hash tag)", () => {
    expect(rejected({ keyPrefix: "{rrq}" })).toContain("keyPrefix")
    expect(rejected({ keyPrefix: "a{b" })).toContain("keyPrefix")
    expect(rejected({ keyPrefix: "a}b" })).toContain("keyPrefix")
    expect(rejected({ keyPrefix: "" })).toContain("keyPrefix")
    expect(right({ keyPrefix: "my-app:rrq" }).keyPrefix).toBe("my-app:rrq")
  })

  // BUG: Effect's Duration clamps NaN and negative bigint / hrtime inputs to zero, and
  // parseDuration only screens negative numbers and strings, so these are silently read as 0
  // (e.g. `shutdownGraceMs: Number(process.env.UNSET)` becomes "no grace at all").
  it("durations Effect would clamp to zero (NaN, negative bigint nanos, negative hrtime) are rejected", () => {
    expect(Either.isLeft(parsed(NaN))).toBe(true)
    expect(Either.isLeft(parsed(-5_000_000n))).toBe(true)
    expect(Either.isLeft(parsed([-1, 0]))).toBe(true)
    expect(rejected({ shutdownGraceMs: NaN })).toContain("shutdownGraceMs")
    expect(rejected({ defaultTimeoutMs: -5_000_000_000n })).toContain("defaultTimeoutMs")
  })

  // BUG (inconsistency): a per-job `timeout` must be ≥ 1ms (Client.toNewJob), but the default
  // timeout accepts 0, which makes every job without its own timeout time out at once.
  it("defaultTimeoutMs 0 is rejected like a per-job timeout of 0", () => {
    expect(rejected({ defaultTimeoutMs: 0 })).toContain("defaultTimeoutMs")
  })

  it("a value of the wrong type is rejected with its key named", () => {
    expect(rejected(loose({ concurrency: "5" }))).toBe("concurrency must be a number, got the string '5'")
    expect(rejected(loose({ retryJitter: "true" }))).toContain("retryJitter must be a boolean")
    expect(rejected(loose({ keyPrefix: 5 }))).toContain("keyPrefix must be a string")
    expect(rejected(loose({ redisUrl: null }))).toContain("redisUrl must be a string, got null")
    expect(rejected(loose({ maxStalls: {} }))).toContain("maxStalls must be a number, got an object")
    expect(rejected(loose({ unknownFunction: 1 }))).toContain("unknownFunction must be a string")
  })

  it("redisUrl must be redis://, rediss:// or a Unix socket path (what ioredis connects to)", () => {
    expect(rejected({ redisUrl: "http://x" })).toContain("redisUrl must be a redis:// or rediss:// URL")
    expect(rejected({ redisUrl: "localhost:6379" })).toContain("redisUrl")
    expect(rejected({ redisUrl: "unix:///tmp/redis.sock" })).toContain("redisUrl")
    expect(rejected({ redisUrl: "" })).toContain("redisUrl")
    expect(rejected({ redisUrl: "redis://[oops" })).toContain("redisUrl is not a valid URL")
    // a password in a refused URL is not echoed
    expect(rejected({ redisUrl: "http://user:hunter2@host" })).not.toContain("hunter2")
    expect(right({ redisUrl: "redis://u:p@host:6380/2" }).redisUrl).toBe("redis://u:p@host:6380/2")
    expect(right({ redisUrl: "REDISS://host" }).redisUrl).toBe("REDISS://host")
    expect(right({ redisUrl: "/run/redis/redis.sock" }).redisUrl).toBe("/run/redis/redis.sock")
  })

  it("unknownFunction is 'fail' (the default) or 'retry'", () => {
    expect(right().unknownFunction).toBe("fail")
    expect(right({ unknownFunction: "retry" }).unknownFunction).toBe("retry")
    expect(rejected(loose({ unknownFunction: "skip" }))).toBe("unknownFunction must be 'fail' or 'retry', got 'skip'")
  })

  it("defaultQueue must be a valid queue name", () => {
    expect(rejected({ defaultQueue: "" })).toContain("defaultQueue")
    expect(rejected({ defaultQueue: "a b" })).toContain("defaultQueue")
  })
})

describe("Settings.parseDuration", () => {
  it("parses the short forms, numbers and Effect durations to milliseconds", () => {
    const cases: ReadonlyArray<readonly [Settings.DurationInput | string, number]> = [
      ["500ms", 500],
      ["2s", 2_000],
      ["5m", 5 * MINUTE],
      ["1h", HOUR],
      ["1d", DAY],
      ["1.5s", 1_500],
      ["0.5m", 30_000],
      [" 10 ms ", 10],
      ["0ms", 0],
      ["250", 250],
      ["12.5", 12.5],
      [750, 750],
      [0, 0],
      ["5 seconds", 5_000],
      ["1 minute", MINUTE],
      ["2 hours", 2 * HOUR],
      ["100 millis", 100],
      [Duration.millis(42), 42],
      [Duration.minutes(2), 2 * MINUTE],
      [[1, 500_000_000], 1_500],
      [3_000_000n, 3]
    ]
    for (const [input, ms] of cases) {
      expect(parsed(input), `parseDuration(${String(input)})`).toEqual(Either.right(ms))
    }
  })

  it("rejects negatives and nonsense with an InvalidOptions naming the input", () => {
    for (const input of ["-1s", "-5 seconds", " -2", "soon", "5 parsecs", "5S", "1w", "", "ms", "1.2.3s"]) {
      const r = parsed(input)
      expect(Either.isLeft(r), `parseDuration(${JSON.stringify(input)})`).toBe(true)
      if (Either.isLeft(r)) {
        expect(r.left).toBeInstanceOf(InvalidOptions)
        expect(r.left.message).toContain(input.trim() === "" ? "''" : input)
      }
    }
    const neg = parsed(-1)
    expect(Either.isLeft(neg) && neg.left.message).toContain("negative")
  })

  it("names the option when given one", () => {
    const r = Settings.parseDuration("x", "timeout")
    expect(Either.isLeft(r) && r.left.message).toBe("timeout: invalid duration 'x' (use e.g. 500ms, 2s, 5m, 1h)")
  })
})

describe("Settings layers", () => {
  it.effect("Settings.layer provides the resolved settings", () =>
    Effect.gen(function*() {
      const s = yield* Settings.RrqSettings
      expect(s).toEqual({ ...Settings.defaults, leaseMs: 2_000, concurrency: 4 })
    }).pipe(Effect.provide(Settings.layer({ leaseMs: "2s", concurrency: 4 }))))

  it.effect("Settings.layer fails with InvalidOptions on invalid input", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.provide(Settings.RrqSettings, Settings.layer({ concurrency: 0 })))
      expect(e).toBeInstanceOf(InvalidOptions)
      expect(e.message).toContain("concurrency")
    }))

  const fromMap = (entries: Record<string, string>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

  it.effect("layerConfig reads every setting under its own name from the current ConfigProvider", () =>
    Effect.gen(function*() {
      const s = yield* Settings.RrqSettings
      expect(s).toEqual({
        ...Settings.defaults,
        redisUrl: "redis://cfg.example:6380/2",
        concurrency: 4,
        leaseMs: 5_000,
        pollDelayMs: 250,
        retryMaxMs: 10 * MINUTE,
        defaultMaxRetries: 9,
        pollJitter: 0.25,
        retryJitter: true,
        keyPrefix: "cfg"
      })
    }).pipe(
      Effect.provide(Settings.layerConfig().pipe(Layer.provide(fromMap({
        redisUrl: "redis://cfg.example:6380/2",
        concurrency: "4",
        leaseMs: "5 seconds",
        pollDelayMs: "250ms",
        retryMaxMs: "10m",
        defaultMaxRetries: "9",
        pollJitter: "0.25",
        retryJitter: "true",
        keyPrefix: "cfg"
      }))))
    ))

  it.effect("layerConfig: config values win over the overrides, the overrides over the defaults", () =>
    Effect.gen(function*() {
      const s = yield* Settings.RrqSettings
      expect(s).toMatchObject({ concurrency: 4, keyPrefix: "from-overrides", leaseMs: 30_000 })
    }).pipe(
      Effect.provide(
        Settings.layerConfig({ concurrency: 2, keyPrefix: "from-overrides" }).pipe(Layer.provide(fromMap({ concurrency: "4" })))
      )
    ))

  it.effect("layerConfig: an invalid value fails (InvalidOptions, or a ConfigError for a non-number)", () =>
    Effect.gen(function*() {
      const invalid = yield* Effect.flip(
        Effect.provide(Settings.RrqSettings, Settings.layerConfig().pipe(Layer.provide(fromMap({ leaseMs: "-2s" }))))
      )
      expect(invalid._tag).toBe("InvalidOptions")
      expect(invalid.message).toContain("leaseMs")
      const jitter = yield* Effect.flip(
        Effect.provide(Settings.RrqSettings, Settings.layerConfig().pipe(Layer.provide(fromMap({ pollJitter: "2" }))))
      )
      expect(jitter._tag).toBe("InvalidOptions")
      const notNumber = yield* Effect.flip(
        Effect.provide(Settings.RrqSettings, Settings.layerConfig().pipe(Layer.provide(fromMap({ concurrency: "many" }))))
      )
      expect(notNumber._tag).not.toBe("InvalidOptions")
      expect(String(notNumber)).toContain("concurrency")
    }))

  it.effect("layerFromEnv reads RRQ_REDIS_URL, RRQ_CONCURRENCY, RRQ_LEASE_MS, RRQ_DEFAULT_MAX_RETRIES...", () =>
    withEnv(
      {
        RRQ_REDIS_URL: "redis://env.example:6390/4",
        RRQ_CONCURRENCY: "7",
        RRQ_LEASE_MS: "1500",
        RRQ_DEFAULT_MAX_RETRIES: "9",
        RRQ_POLL_DELAY_MS: "2s",
        RRQ_RETRY_JITTER: "true",
        RRQ_KEY_PREFIX: "envq",
        RRQ_UNKNOWN_FUNCTION: "retry",
        // not ours: must be ignored
        CONCURRENCY: "99",
        concurrency: "98"
      },
      Effect.gen(function*() {
        const s = yield* Effect.provide(Settings.RrqSettings, Settings.layerFromEnv())
        expect(s).toEqual({
          ...Settings.defaults,
          redisUrl: "redis://env.example:6390/4",
          concurrency: 7,
          leaseMs: 1_500,
          defaultMaxRetries: 9,
          pollDelayMs: 2_000,
          retryJitter: true,
          keyPrefix: "envq",
          unknownFunction: "retry"
        })
        // the overrides fill in what the environment does not set
        const o = yield* Effect.provide(Settings.RrqSettings, Settings.layerFromEnv({ shutdownGraceMs: "1s", concurrency: 2 }))
        expect(o).toMatchObject({ shutdownGraceMs: 1_000, concurrency: 7 })
        // an invalid variable is rejected
        const bad = yield* withEnv(
          { RRQ_CONCURRENCY: "0" },
          Effect.flip(Effect.provide(Settings.RrqSettings, Settings.layerFromEnv()))
        )
        expect(bad._tag).toBe("InvalidOptions")
        for (const [name, value, key] of [["RRQ_REDIS_URL", "http://x", "redisUrl"], ["RRQ_UNKNOWN_FUNCTION", "ignore", "unknownFunction"]]) {
          const e = yield* withEnv(
            { [name!]: value! },
            Effect.flip(Effect.provide(Settings.RrqSettings, Settings.layerFromEnv()))
          )
          expect(e._tag).toBe("InvalidOptions")
          expect(e.message).toContain(key)
        }
      })
    ))

  it.effect("layerFromEnv with no RRQ_* variables gives the defaults and the overrides", () =>
    withEnv(
      { CONCURRENCY: "99", REDIS_URL: "redis://not-ours:1/0" },
      Effect.gen(function*() {
        const s = yield* Effect.provide(Settings.RrqSettings, Settings.layerFromEnv({ concurrency: 3 }))
        expect(s).toEqual({ ...Settings.defaults, concurrency: 3 })
        expect(process.env.RRQ_CONCURRENCY).toBeUndefined()
      })
    ))

  // BUG: layerFromEnv installs its ConfigProvider (constant case, nested under RRQ) with
  // Layer.setConfigProvider, and that provider leaks into every program the layer is provided
  // to: the application's own `Config.string("DATABASE_URL")` then reads `RRQ_DATABASE_URL`.
  it.effect("layerFromEnv leaves the application's ConfigProvider alone", () =>
    withEnv(
      { RRQ_TEST_APP_SETTING: "rrq-namespaced", TEST_APP_SETTING: "the app's own" },
      Effect.gen(function*() {
        yield* Settings.RrqSettings
        const own = yield* Config.string("TEST_APP_SETTING")
        expect(own).toBe("the app's own")
      }).pipe(Effect.provide(Settings.layerFromEnv()))
    ))
})
