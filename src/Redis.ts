/**
 * RedisClient: the ioredis connection as a scoped service. Commands share one
 * auto-pipelined connection; subscribers and blocking calls get their own
 * through `connection`. ioredis errors become `RedisError`, with the cause kept.
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis as IORedis, type RedisOptions } from "ioredis"
import { RedisError } from "./Errors.js"
import { RrqSettings } from "./Settings.js"

export interface RedisClientShape {
  /** The shared command connection. */
  readonly redis: IORedis
  /** Runs an ioredis call, mapping its failure to `RedisError` (`what` prefixes the message). */
  readonly use: <A>(f: (redis: IORedis) => Promise<A>, what?: string) => Effect.Effect<A, RedisError>
  /** A dedicated connection (for SUBSCRIBE or blocking commands), closed with the scope. */
  readonly connection: (name: string) => Effect.Effect<IORedis, never, Scope.Scope>
  /** The URL with any password replaced by `***`: safe to log. */
  readonly displayUrl: string
}

export class RedisClient extends Context.Tag("rrq/RedisClient")<RedisClient, RedisClientShape>() {}

export interface Options {
  readonly url: string | Redacted.Redacted<string>
  /**
   * A connection that leaves a PING without a reply for this long is dropped and opened
   * anew, failing the commands in flight on it (default 5 s; 0: never). Every connection
   * is pinged at this interval.
   */
  readonly commandTimeoutMs?: number
  /** TCP keepalive's idle time before the first probe (default 10 s). */
  readonly keepAliveMs?: number
  /** Extra ioredis options (TLS certificates, sentinels...). */
  readonly options?: RedisOptions
}

/**
 * Replaces the credentials of a `redis://` or `rediss://` URL with `***`, without
 * trusting a URL parser: a password may hold an unencoded `/`, `?`, `#` or `@`, which
 * would move it into the path and out of reach of `URL.password`. Everything between
 * `//` and the last `@` is `user:password` (as ioredis reads it); the user name stays.
 */
export const redactUrl = (url: string): string => {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@([^@]*)$/is.exec(url)
  const colon = m === null ? -1 : m[2]!.indexOf(":")
  return m === null || colon < 0 ? url : `${m[1]}${m[2]!.slice(0, colon)}:***@${m[3]}`
}

/** ioredis attaches the failed command to its errors: never keep the arguments of AUTH or HELLO (passwords). */
const scrub = (cause: unknown) => {
  const command = (cause as { command?: { name?: string; args?: Array<unknown> } } | null)?.command
  if (command && /^(auth|hello|acl|config|migrate)$/i.test(command.name ?? "")) command.args = ["***"]
  return cause
}

const toRedisError = (what: string) => (cause: unknown): RedisError =>
  new RedisError({
    message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause: scrub(cause)
  })

/** Jittered exponential reconnect delay, capped at 2 s. */
const reconnectDelay = (times: number) => Math.round(Math.min(2_000, 50 * 2 ** Math.min(times, 6)) * (0.5 + Math.random() / 2))

const baseOptions: RedisOptions = {
  // a command fails after one reconnect attempt instead of hanging while Redis is away;
  // callers (the worker loops) retry with their own backoff
  maxRetriesPerRequest: 1,
  retryStrategy: reconnectDelay,
  connectTimeout: 5_000,
  // A command in flight when a connection drops is not sent again on the next one (it may
  // have run already: a claim run twice takes jobs nobody runs); `failInFlight` fails it,
  // and its caller retries.
  autoResendUnfulfilledCommands: false,
  // off: rrq already batches (claims, completions, enqueues), and auto-pipelining holds
  // every command back to the next tick: +25% at concurrency 100, +40% for single
  // enqueues, lower pickup latency with it off (docs/performance.md)
  enableAutoPipelining: false,
  lazyConnect: false
}

/**
 * Closes a connection: QUIT when it is up (pending replies arrive first), at once when
 * it is not (a QUIT would wait for a reconnection). Interruptible, so that the timeout
 * works inside the scope's finalizer.
 */
const quit = (redis: IORedis) =>
  redis.status === "ready"
    ? Effect.interruptible(Effect.tryPromise(() => redis.quit())).pipe(
      Effect.timeout("2 seconds"),
      Effect.catchAll(() => Effect.sync(() => redis.disconnect()))
    )
    : Effect.sync(() => redis.disconnect())

/**
 * Fails the commands a closed connection left without a reply. Without a resend ioredis
 * drops them at the next connection and their promises never settle (a claim loop would
 * wait forever); `commandQueue` still holds them when "close" is emitted.
 */
const failInFlight = (redis: IORedis) => {
  const error = new Error("Connection closed before the reply (the command may or may not have run)")
  for (let item = redis.commandQueue.shift(); item !== undefined; item = redis.commandQueue.shift()) {
    item.command.reject(error)
  }
}

export const make = (options: Options): Effect.Effect<RedisClientShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const displayUrl = redactUrl(url)
    const runtime = yield* Effect.runtime<never>()
    const log = Runtime.runFork(runtime)
    const commandTimeoutMs = options.commandTimeoutMs ?? 5_000
    const keepAlive: RedisOptions = { keepAlive: options.keepAliveMs ?? 10_000 }

    // One line per outage for the whole client (all its connections), not one per reconnect.
    let down = false
    let lastError = ""

    /**
     * A PING got no reply in time: the connection may be half-open (nothing comes back,
     * nothing closes it), and TCP keepalive would take minutes to say so. It is dropped and
     * opened again; commands in flight on it fail and their callers retry.
     */
    const reconnectSilent = (redis: IORedis, name: string) => {
      if (redis.status !== "ready") return // already reconnecting
      lastError = `no reply within ${commandTimeoutMs}ms`
      if (!down) {
        down = true
        log(Effect.logWarning(
          `Redis at ${displayUrl}: no reply within ${commandTimeoutMs}ms on the ${name} connection; reconnecting`
        ))
      }
      redis.disconnect(true)
    }

    // One PING per interval and connection, instead of a timer per command (ioredis's
    // commandTimeout cost 5% of throughput at concurrency 1): a PING waits behind the
    // commands sent before it, so a connection that answers nothing is noticed all the same.
    const watch = (redis: IORedis, name: string) =>
      commandTimeoutMs <= 0 ? Effect.void : Effect.forkScoped(
        Effect.suspend(() =>
          redis.status !== "ready" ? Effect.void : Effect.promise(() => redis.ping().catch(() => undefined)).pipe(
            Effect.timeout(commandTimeoutMs),
            Effect.catchAll(() => Effect.sync(() => reconnectSilent(redis, name)))
          )
        ).pipe(Effect.repeat(Schedule.spaced(commandTimeoutMs)))
      )

    const open = (name: string) =>
      Effect.tap(Effect.acquireRelease(
        Effect.sync(() => {
          const redis = new IORedis(url, { ...baseOptions, ...keepAlive, ...options.options, connectionName: `rrq:${name}` })
          redis.on("error", (err: Error) => {
            lastError = err.message
            if (down) return
            down = true
            log(Effect.logWarning(`Redis at ${displayUrl} unavailable (${err.message}); retrying with backoff`))
          })
          redis.on("close", () => failInFlight(redis))
          redis.on("ready", () => {
            if (!down) return
            down = false
            log(Effect.logInfo(`Redis at ${displayUrl} reachable again`))
          })
          return redis
        }),
        quit
      ), (redis) => watch(redis, name))

    const redis = yield* open("commands")
    // While the connection is down, say where and why rather than ioredis's retry-limit message.
    const failure = (what: string) => (cause: unknown) =>
      redis.status === "ready"
        ? toRedisError(what)(cause)
        : new RedisError({
          message: `Redis at ${displayUrl} unreachable${lastError ? ` (${lastError})` : ""}`,
          cause: scrub(cause)
        })
    return {
      redis,
      use: (f, what = "Redis command failed") => Effect.tryPromise({ try: () => f(redis), catch: failure(what) }),
      connection: open,
      displayUrl
    } satisfies RedisClientShape
  })

export const layer = (options: Options): Layer.Layer<RedisClient> => Layer.scoped(RedisClient, make(options))

/** The URL from `RRQ_REDIS_URL` (or the given Config). */
export const layerConfig = (
  url: Config.Config<string> = Config.string("RRQ_REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379/0"))
) => Layer.scoped(RedisClient, Effect.flatMap(url, (u) => make({ url: u })))

/** The URL from the `redisUrl` of `RrqSettings`. */
export const layerFromSettings: Layer.Layer<RedisClient, never, RrqSettings> = Layer.scoped(
  RedisClient,
  Effect.flatMap(
    RrqSettings,
    (s) => make({ url: s.redisUrl, commandTimeoutMs: s.commandTimeoutMs, keepAliveMs: s.keepAliveMs })
  )
)
