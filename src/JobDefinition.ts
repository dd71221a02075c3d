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
import type * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

export interface JobDefinition<P, PI, R, RI> {
  readonly _tag: "JobDefinition"
  readonly name: string
  readonly params: Schema.Schema<P, PI>
  readonly result: Schema.Schema<R, RI>
  readonly queue?: string | undefined
  readonly maxRetries?: number | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly resultTtl?: Duration.DurationInput | undefined
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
    readonly timeout?: Duration.DurationInput
    readonly resultTtl?: Duration.DurationInput
  } = {}
): JobDefinition<P, PI, R, RI> => ({
  _tag: "JobDefinition",
  name,
  params: (options.params ?? Schema.Unknown) as Schema.Schema<P, PI>,
  result: (options.result ?? Schema.Unknown) as Schema.Schema<R, RI>,
  queue: options.queue,
  maxRetries: options.maxRetries,
  timeout: options.timeout,
  resultTtl: options.resultTtl
})
