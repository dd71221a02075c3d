/**
 * From an enqueue request to a `NewJob` the store can write: params encoded by
 * the definition's Schema and serialised, options validated and resolved.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import type { EnqueueRequest } from "../Client.js"
import { InvalidOptions, InvalidParams } from "../Errors.js"
import type { NewJob } from "../Job.js"
import { oversize } from "./payload.js"
import { type DurationInput, parseDuration, type Settings } from "../Settings.js"

/**
 * A duration option in whole milliseconds, at least `min` and finite; `name` names it
 * in the error. Shared by every option that takes a duration (enqueue, Handler, wait).
 */
export const durationMs = (
  name: string,
  input: DurationInput | undefined,
  min: number
): Either.Either<number | undefined, InvalidOptions> => {
  if (input === undefined) return Either.right(undefined)
  return Either.flatMap(parseDuration(input, name), (ms) =>
    Number.isFinite(ms) && ms >= min
      ? Either.right(Math.round(ms))
      : Either.left(new InvalidOptions({ message: `${name} must be ${min > 0 ? "positive" : "≥ 0"}, got ${ms}ms` })))
}

/** Serialises params to JSON text, refusing what JSON cannot carry and what is too big. */
export const serializeParams = (params: unknown, maxBytes: number): Either.Either<string, InvalidParams> => {
  const kind = typeof params
  if (kind === "function" || kind === "symbol" || kind === "bigint") {
    return Either.left(new InvalidParams({ message: `params must be JSON-serialisable, got a ${kind}` }))
  }
  let json: string | undefined
  try {
    json = JSON.stringify(params === undefined ? null : params)
  } catch (e) {
    return Either.left(
      new InvalidParams({ message: `params must be JSON-serialisable: ${e instanceof Error ? e.message : String(e)}` })
    )
  }
  const bytes = oversize(json!, maxBytes)
  if (bytes !== undefined) {
    return Either.left(new InvalidParams({ message: `params are ${bytes} bytes, more than maxPayloadBytes (${maxBytes})` }))
  }
  return Either.right(json!)
}

const invalid = (message: string) => Either.left(new InvalidOptions({ message }))

/** A caller-given key (job id, unique or idempotency key) is 1 to 256 characters. */
const badKey = (value: string | undefined) => value !== undefined && (value.length === 0 || value.length > 256)

/**
 * Turns one request into a NewJob: params encoded and checked, options validated
 * and resolved. Plain code rather than an Effect: it runs once per enqueued job.
 */
export const toNewJob = (
  settings: Settings,
  request: EnqueueRequest
): Either.Either<NewJob, InvalidParams | InvalidOptions> => {
  const definition = typeof request.job === "string" ? undefined : request.job
  const functionName = typeof request.job === "string" ? request.job : request.job.name
  const o = request.options ?? {}
  if (functionName.length === 0) return invalid("function name must not be empty")
  if (o.deferBy !== undefined && o.deferUntil !== undefined) return invalid("deferBy and deferUntil are mutually exclusive")
  let encoded = request.params
  if (definition && definition.params !== Schema.Unknown) {
    const e = Schema.encodeUnknownEither(definition.params)(request.params)
    if (Either.isLeft(e)) {
      return Either.left(new InvalidParams({ message: `params of '${functionName}' are invalid: ${e.left.message}` }))
    }
    encoded = e.right
  }
  const params = serializeParams(encoded, settings.maxPayloadBytes)
  if (Either.isLeft(params)) return Either.left(params.left)
  const delayMs = durationMs("deferBy", o.deferBy, 0)
  if (Either.isLeft(delayMs)) return Either.left(delayMs.left)
  let runAt: number | undefined
  if (o.deferUntil !== undefined) {
    runAt = o.deferUntil instanceof Date ? o.deferUntil.getTime() : o.deferUntil
    if (!Number.isFinite(runAt)) return invalid("deferUntil is not a valid date")
    // whole milliseconds, as stored; rounded up: "no earlier than"
    runAt = Math.ceil(runAt)
  }
  const maxRetries = o.maxRetries ?? definition?.maxRetries ?? settings.defaultMaxRetries
  if (!Number.isInteger(maxRetries) || maxRetries < 1) {
    return invalid(`maxRetries must be an integer ≥ 1, got ${maxRetries}`)
  }
  const timeoutMs = durationMs("timeout", o.timeout ?? definition?.timeout, 1)
  if (Either.isLeft(timeoutMs)) return Either.left(timeoutMs.left)
  const resultTtlMs = durationMs("resultTtl", o.resultTtl ?? definition?.resultTtl, 0)
  if (Either.isLeft(resultTtlMs)) return Either.left(resultTtlMs.left)
  if (badKey(o.jobId)) return invalid("jobId must be 1 to 256 characters")
  if (badKey(o.uniqueKey)) return invalid("uniqueKey must be 1 to 256 characters")
  if (badKey(o.idempotencyKey)) return invalid("idempotencyKey must be 1 to 256 characters")
  return Either.right({
    id: o.jobId ?? randomUUID(),
    fresh: o.jobId === undefined,
    queue: o.queue ?? definition?.queue ?? settings.defaultQueue,
    functionName,
    params: params.right,
    maxRetries,
    timeoutMs: timeoutMs.right,
    resultTtlMs: resultTtlMs.right ?? settings.defaultResultTtlMs,
    runAt,
    delayMs: delayMs.right ?? 0,
    uniqueKey: o.uniqueKey,
    idempotencyKey: o.idempotencyKey,
    traceContext: o.traceContext
  } satisfies NewJob)
}

/**
 * The positions of an enqueue call's jobs, by queue, in call order: both stores write each
 * queue's jobs in one step (one script call on Redis), then put every outcome back at its
 * job's position.
 */
export const positionsByQueue = (jobs: ReadonlyArray<NewJob>): Map<string, Array<number>> => {
  const groups = new Map<string, Array<number>>()
  for (let i = 0; i < jobs.length; i++) {
    const group = groups.get(jobs[i]!.queue)
    if (group) group.push(i)
    else groups.set(jobs[i]!.queue, [i])
  }
  return groups
}
