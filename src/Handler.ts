/**
 * Handlers: what a worker runs for a function name. A handler may return an
 * Effect, a Promise or a plain value, so `async (params, ctx) => ...` works as is.
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { RrqClientShape } from "./Client.js"
import { InvalidOptions } from "./Errors.js"
import { durationMs } from "./internal/newJob.js"
import type * as JobDefinition from "./JobDefinition.js"
import type { DurationInput, SettingsInput } from "./Settings.js"

/** What a handler knows about the job it runs. */
export interface JobContext {
  readonly jobId: string
  /** 1 on the first run. */
  readonly attempt: number
  readonly queue: string
  readonly workerId: string
  readonly enqueuedAt: number
  /** Epoch ms after which the attempt is interrupted. */
  readonly deadline: number
  /** Aborted when the attempt is interrupted (timeout, cancel, shutdown): pass it to fetch & co. */
  readonly signal: AbortSignal
  /** For enqueuing follow-up jobs. */
  readonly client: RrqClientShape
}

export type HandlerResult<A, E, R> = Effect.Effect<A, E, R> | PromiseLike<A> | A

export type HandlerFn<P, A, E = unknown, R = never> = (params: P, ctx: JobContext) => HandlerResult<A, E, R>

export interface HandlerOptions {
  /** Per-attempt timeout (`"30s"`, `"5 minutes"`, ms); a job's own `timeout` takes precedence. */
  readonly timeout?: DurationInput
  /** Total attempts, overriding the job record's. */
  readonly maxRetries?: number
  /** Retry (with backoff) on timeout instead of dead-lettering. */
  readonly retryOnTimeout?: boolean
}

export interface Handler<R = never> {
  readonly _tag: "Handler"
  readonly params: Schema.Schema<any, any>
  readonly result: Schema.Schema<any, any>
  readonly timeoutMs: number | undefined
  readonly maxRetries: number | undefined
  readonly retryOnTimeout: boolean
  /** The function as written: returns an Effect (needing R), a Promise or a value, or throws. */
  readonly call: (params: unknown, ctx: JobContext) => HandlerResult<unknown, unknown, R>
}

// Handlers are built when a module loads, outside any Effect: bad options throw InvalidOptions (an Error).
const build = <R>(
  caller: string,
  params: Schema.Schema<any, any>,
  result: Schema.Schema<any, any>,
  options: HandlerOptions,
  f: (params: unknown, ctx: JobContext) => unknown
): Handler<R> => {
  const timeoutMs = durationMs("timeout", options.timeout, 1)
  if (Either.isLeft(timeoutMs)) throw new InvalidOptions({ message: `${caller}: ${timeoutMs.left.message}` })
  const maxRetries = options.maxRetries
  if (maxRetries !== undefined && !(Number.isInteger(maxRetries) && maxRetries >= 1)) {
    throw new InvalidOptions({ message: `${caller}: maxRetries must be an integer ≥ 1, got ${maxRetries}` })
  }
  if (typeof f !== "function") throw new InvalidOptions({ message: `${caller}: the handler must be a function` })
  return {
    _tag: "Handler",
    params,
    result,
    timeoutMs: timeoutMs.right,
    maxRetries,
    retryOnTimeout: options.retryOnTimeout ?? false,
    call: f as Handler<R>["call"]
  }
}

/**
 * A handler for a bare function name, with optional Schemas for params and result.
 * Throws `InvalidOptions` for an invalid option (e.g. a timeout that is no duration).
 */
export const make = <P = unknown, PI = unknown, A = unknown, AI = unknown, E = unknown, R = never>(
  options: HandlerOptions & {
    readonly params?: Schema.Schema<P, PI>
    readonly result?: Schema.Schema<A, AI>
  },
  f: HandlerFn<P, A, E, R>
): Handler<R> =>
  build<R>("Handler.make", options.params ?? Schema.Unknown, options.result ?? Schema.Unknown, options, f as never)

/** A handler for a job definition: params and result typed by its Schemas, its defaults applied. */
export const forJob = <D extends JobDefinition.Any, E = unknown, R = never>(
  definition: D,
  f: HandlerFn<JobDefinition.Params<D>, JobDefinition.Result<D>, E, R>,
  options: HandlerOptions = {}
): Handler<R> =>
  build<R>(`Handler.forJob('${definition.name}')`, definition.params, definition.result, {
    ...(definition.timeout === undefined ? {} : { timeout: definition.timeout }),
    ...options
  }, f as never)

export const isHandler = (u: unknown): u is Handler<any> =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Handler"

/** Handlers by function name: a `Handler`, or a plain function `(params, ctx) => ...`. */
export type Handlers<R = never> = Readonly<Record<string, Handler<R> | ((params: any, ctx: JobContext) => unknown)>>

/** The default export of a settings file (`rrq worker run --settings FILE`). */
export interface Config<R = never> {
  readonly handlers: Handlers<R>
  readonly settings?: SettingsInput
  /** Services the handlers need (startup and shutdown hooks live in it too). */
  readonly layer?: Layer.Layer<R, unknown, never>
  /** Queues to serve when the command line names none (`name` or `name,weight`). */
  readonly queues?: ReadonlyArray<string>
}

/** Typed identity for settings files; a plain object with the same shape works too. */
export const defineConfig = <R = never>(config: Config<R>): Config<R> => config
