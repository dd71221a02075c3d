/**
 * A worker's options checked and resolved against the settings, before anything starts:
 * invalid ones fail with `InvalidOptions` and nothing is left running.
 */
import * as Effect from "effect/Effect"
import { hostname } from "node:os"
import { randomBytes } from "node:crypto"
import { InvalidOptions } from "../Errors.js"
import type * as Handler from "../Handler.js"
import type { Settings } from "../Settings.js"
import type { WorkerOptions } from "../Worker.js"
import { messageOf } from "./errorText.js"
import { queueOrder } from "./queueOrder.js"
import { looksLikeOldWeight, parseQueue } from "./queueSpec.js"
import { registry } from "./registry.js"

export interface ResolvedOptions<R> {
  readonly id: string
  readonly handlers: ReadonlyMap<string, Handler.Handler<R>>
  readonly queues: ReadonlyArray<string>
  /** This round's queue order (internal/queueOrder.ts). */
  readonly nextOrder: () => ReadonlyArray<string>
  readonly concurrency: number
  readonly burst: boolean
  readonly continueTrace: boolean
}

/** `host-pid-random`: unique per process, and tells an operator where the worker runs. */
export const newWorkerId = (): string => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

export const resolveOptions = <R>(
  options: WorkerOptions<R>,
  settings: Settings
): Effect.Effect<ResolvedOptions<R>, InvalidOptions> =>
  Effect.gen(function*() {
    const handlers = yield* Effect.try({
      try: () => registry(options.handlers),
      catch: (e) => e instanceof InvalidOptions ? e : new InvalidOptions({ message: `handlers: ${messageOf(e)}` })
    })
    const specs = yield* Effect.forEach(options.queues ?? [settings.defaultQueue], (s) => parseQueue(s))
    for (const q of specs) {
      if (looksLikeOldWeight(q.name)) {
        yield* Effect.logWarning(
          `Worker: serving queue '${q.name}' (a name with a colon); weights are written 'name,weight' since 0.2.0, so for a weight write '${q.name.replace(/:(?=[^:]*$)/, ",")}'`
        )
      }
    }
    if (specs.length === 0) return yield* new InvalidOptions({ message: "queues must name at least one queue" })
    const concurrency = options.concurrency ?? settings.concurrency
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return yield* new InvalidOptions({ message: `concurrency must be an integer ≥ 1, got ${concurrency}` })
    }
    return {
      id: options.workerId ?? newWorkerId(),
      handlers,
      queues: specs.map((q) => q.name),
      nextOrder: queueOrder(specs, options.strictOrder ?? false),
      concurrency,
      burst: options.burst ?? false,
      continueTrace: options.continueTrace ?? false
    }
  })
