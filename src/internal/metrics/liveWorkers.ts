/**
 * The workers running in this process, for the scrape-time gauges and the health endpoints:
 * a worker registers itself while its scope is open. Process-wide, like Effect's metric registry.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

export interface LiveWorker {
  readonly id: string
  readonly queues: ReadonlyArray<string>
  readonly slots: number
  /** Jobs running now. */
  readonly active: () => number
  /** The claim loop runs (healthz). */
  readonly alive: () => boolean
  /** Redis answers and the worker is not stopping (readyz). */
  readonly ready: () => boolean
}

const live = new Set<LiveWorker>()

/** Registers the worker until the scope closes. */
export const register = (worker: LiveWorker): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => void live.add(worker)), () => Effect.sync(() => void live.delete(worker)))

export const all = (): ReadonlyArray<LiveWorker> => [...live]
