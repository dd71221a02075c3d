/**
 * What a finished attempt means, decided without touching the store: plain synchronous
 * code on the hot path. The worker turns the decision into a store call.
 */
import * as Cause from "effect/Cause"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { describeError, seconds } from "./errorText.js"

/** Why the worker stopped an attempt, if it did. */
export type StopReason = "timeout" | "cancel" | "lost" | "shutdown"

export type Outcome =
  /** Succeeded: the result as JSON text. */
  | { readonly _tag: "Complete"; readonly result: string }
  /** A failed attempt: again after the backoff (or `delayMs`), or to the DLQ when attempts are spent. */
  | { readonly _tag: "Retry"; readonly error: string; readonly delayMs: number | undefined }
  /** To the DLQ at once. */
  | { readonly _tag: "Fail"; readonly error: string }
  /** Back to pending without counting an attempt (shutdown). */
  | { readonly _tag: "Requeue" }
  /** The lease is gone (cancelled, or recovered elsewhere): nothing to write. */
  | { readonly _tag: "Lost" }

/** What the outcome needs to know of the handler. */
export interface HandlerTraits {
  readonly result: Schema.Schema<any, any, never>
  readonly retryOnTimeout: boolean
}

/** Recognised by `_tag`, not `instanceof`: a settings file may load a second copy of rrq. */
const tagged = (e: unknown, tag: "RetryJob" | "FailJob"): e is { readonly _tag: string } & Record<string, unknown> =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === tag

const reasonOf = (e: Record<string, unknown>, fallback: string): string =>
  typeof e.reason === "string" ? e.reason : typeof e.message === "string" && e.message !== "" ? e.message : fallback

const retry = (error: string, delayMs?: number): Outcome => ({ _tag: "Retry", error, delayMs })
const fail = (error: string): Outcome => ({ _tag: "Fail", error })

/** The outcome of an attempt of `functionName` that ended with `exit` (stopped by the worker for `stop`). */
export const outcomeOf = (
  exit: Exit.Exit<unknown, unknown>,
  stop: StopReason | undefined,
  handler: HandlerTraits,
  functionName: string,
  timeoutMs: number
): Outcome => {
  if (Exit.isSuccess(exit)) {
    const encoded = handler.result === Schema.Unknown
      ? Either.right(exit.value)
      : Schema.encodeUnknownEither(handler.result)(exit.value)
    if (Either.isLeft(encoded)) return fail(`Result of '${functionName}' does not match its Schema: ${encoded.left.message}`)
    try {
      return { _tag: "Complete", result: JSON.stringify(encoded.right === undefined ? null : encoded.right) }
    } catch (e) {
      return fail(`Result of '${functionName}' is not JSON-serialisable: ${describeError(e)}`)
    }
  }
  if (Cause.isInterruptedOnly(exit.cause)) {
    switch (stop) {
      case "timeout": {
        const message = `Job timed out after ${seconds(timeoutMs)}.`
        return handler.retryOnTimeout ? retry(message) : fail(message)
      }
      case "shutdown":
        return { _tag: "Requeue" }
      case "cancel":
      case "lost":
        return { _tag: "Lost" }
      default:
        return retry("Job was interrupted")
    }
  }
  const error = Cause.squash(exit.cause)
  if (tagged(error, "RetryJob")) {
    const delay = typeof error.delay === "number" && error.delay >= 0 && Number.isFinite(error.delay) ? error.delay : undefined
    return retry(reasonOf(error, "Retry requested"), delay)
  }
  if (tagged(error, "FailJob")) return fail(reasonOf(error, "Failed"))
  return retry(describeError(error))
}
