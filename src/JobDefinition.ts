/**
 * A typed job definition, shared by producers and workers: the function name,
 * the params and result Schemas, and per-job defaults.
 *
 * ```ts
 * const SendEmail = JobDefinition.make("send_email", {
 *   params: Schema.Struct({ to: Schema.String }),
 *   result: Schema.Struct({ messageId: Schema.String }),
 *   maxRetries: 3
 * })
 * ```
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { InvalidOptions } from "./Errors.js"
import { durationMs } from "./internal/newJob.js"
import type { DurationInput } from "./Settings.js"

export interface JobDefinition<P, PI, R, RI> {
  readonly _tag: "JobDefinition"
  readonly name: string
  readonly params: Schema.Schema<P, PI>
  readonly result: Schema.Schema<R, RI>
  readonly queue?: string | undefined
  readonly maxRetries?: number | undefined
  readonly timeout?: DurationInput | undefined
  readonly resultTtl?: DurationInput | undefined
}

/** Any job definition, whatever its Schemas. */
export type Any = JobDefinition<any, any, any, any>
export type Params<D> = D extends JobDefinition<infer P, any, any, any> ? P : never
export type Result<D> = D extends JobDefinition<any, any, infer R, any> ? R : never

export const make = <P = unknown, PI = unknown, R = unknown, RI = unknown>(
  name: string,
  options: {
    readonly params?: Schema.Schema<P, PI>
    readonly result?: Schema.Schema<R, RI>
    readonly queue?: string
    readonly maxRetries?: number
    readonly timeout?: DurationInput
    readonly resultTtl?: DurationInput
  } = {}
): JobDefinition<P, PI, R, RI> => {
  // a definition is a module-level constant: a bad duration is reported where it is written,
  // not at the first enqueue (throws InvalidOptions, an Error)
  for (const [option, min] of [["timeout", 1], ["resultTtl", 0]] as const) {
    const ms = durationMs(option, options[option], min)
    if (Either.isLeft(ms)) throw new InvalidOptions({ message: `JobDefinition.make('${name}'): ${ms.left.message}` })
  }
  return {
    _tag: "JobDefinition",
    name,
    params: (options.params ?? Schema.Unknown) as Schema.Schema<P, PI>,
    result: (options.result ?? Schema.Unknown) as Schema.Schema<R, RI>,
    queue: options.queue,
    maxRetries: options.maxRetries,
    timeout: options.timeout,
    resultTtl: options.resultTtl
  }
}
