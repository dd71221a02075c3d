/**
 * A queue as a worker is told to serve it: `name`, or `name,weight` for weighted
 * selection (Sidekiq's form). A comma, since a queue name may hold colons
 * (`tenant:42`) but no comma.
 */
import * as Either from "effect/Either"
import { InvalidOptions } from "../Errors.js"
import { isValidQueueName, QUEUE_NAME_RULE } from "../Keys.js"

export interface QueueWeight {
  readonly name: string
  readonly weight: number
}

/** Parses `name` or `name,weight` (weight a positive number). */
export const parseQueue = (spec: string): Either.Either<QueueWeight, InvalidOptions> => {
  const i = spec.indexOf(",")
  const name = i < 0 ? spec : spec.slice(0, i)
  const weight = i < 0 ? 1 : Number(spec.slice(i + 1))
  if (!(weight > 0) || !Number.isFinite(weight)) {
    return Either.left(
      new InvalidOptions({ message: `invalid queue weight in '${spec}' (use name,weight with a positive weight)` })
    )
  }
  if (!isValidQueueName(name)) {
    return Either.left(
      new InvalidOptions({ message: `invalid queue name in '${spec}' (${QUEUE_NAME_RULE})` })
    )
  }
  return Either.right({ name, weight })
}

/** `emails:3` was a weight before 0.2.0; it now names a queue, which may be a mistake worth a word. */
export const looksLikeOldWeight = (name: string): boolean => /:\d+(\.\d+)?$/.test(name)
