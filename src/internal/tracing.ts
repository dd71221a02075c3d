/**
 * Traces, following OpenTelemetry's messaging conventions, through Effect's `Tracer` (an app
 * installs @effect/opentelemetry's layer, or any other tracer): enqueue makes a PRODUCER span
 * `send <queue>` and stores its W3C `traceparent` in the job's `traceContext`; each attempt
 * runs in a CONSUMER span `process <queue>` linked to it (or its child, with `continueTrace`).
 * With Effect's built-in tracer (no tracer installed) rrq makes no spans: nothing to pay.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { ClaimedJob } from "../JobStore.js"

/** The tracer Effect runs with when the app installs none. */
const builtIn = Effect.runSync(Effect.tracer)

/** The app's tracer, or undefined when it installed none. */
export const installed = (tracer: Tracer.Tracer): Tracer.Tracer | undefined => (tracer === builtIn ? undefined : tracer)

/** A span's W3C `traceparent`. */
export const traceparent = (span: Tracer.AnySpan): string =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The span a job's `traceContext` names (a W3C traceparent, maybe followed by a space and its tracestate). */
export const parseTraceContext = (text: string | undefined): Tracer.ExternalSpan | undefined => {
  const m = text === undefined ? null : /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/.exec(text)
  if (m === null || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined
  return Tracer.externalSpan({ traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 })
}

/** The producer span's attributes for an enqueue of `count` jobs to `queue`. */
export const sendAttributes = (queue: string, count: number): Record<string, unknown> => ({
  "messaging.system": "rrq",
  "messaging.destination.name": queue,
  "messaging.operation.type": "send",
  "messaging.operation.name": "send",
  ...(count > 1 ? { "messaging.batch.message_count": count } : {})
})

/** Starts the consumer span of an attempt, linked to (or, `asChild`, under) the job's creation. */
export const startAttempt = (tracer: Tracer.Tracer, job: ClaimedJob, nowNanos: bigint, asChild: boolean): Tracer.Span => {
  const created = parseTraceContext(job.traceContext)
  const span = tracer.span(
    `process ${job.queue}`,
    asChild && created !== undefined ? Option.some(created) : Option.none(),
    Context.empty(),
    !asChild && created !== undefined ? [{ _tag: "SpanLink", span: created, attributes: {} }] : [],
    nowNanos,
    "consumer"
  )
  span.attribute("messaging.system", "rrq")
  span.attribute("messaging.destination.name", job.queue)
  span.attribute("messaging.operation.type", "process")
  span.attribute("messaging.operation.name", "process")
  span.attribute("messaging.message.id", job.id)
  span.attribute("rrq.function", job.functionName)
  span.attribute("rrq.job.attempt", job.currentRetries + 1)
  return span
}

/** What failed an attempt, for `error.type`: the error's tag or class name, else `why`. */
export const errorType = (exit: Exit.Exit<unknown, unknown>, why: string): string => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return why
  const error = Cause.squash(exit.cause)
  const type = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag ?? (error as Error).name : undefined
  return typeof type === "string" && type !== "" ? type : why
}

/**
 * Ends an attempt's span with its outcome (`complete`, `retry`, `fail`, `requeue`, `lost`)
 * and, when it failed, `error.type`.
 */
export const endAttempt = (
  span: Tracer.Span,
  outcome: string,
  error: string | undefined,
  exit: Exit.Exit<unknown, unknown>,
  nowNanos: bigint
): void => {
  span.attribute("rrq.outcome", outcome)
  if (error !== undefined) span.attribute("error.type", error)
  span.end(nowNanos, exit)
}
