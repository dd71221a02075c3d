/**
 * A level-free signal: `wait` captures the current round, `fire` ends it. Arm first, wait
 * later: an Effect taken from `wait` before some work completes at the next `fire` even if
 * that comes before the Effect runs. The Deferred is made only when someone waits, so
 * firing per job costs nothing.
 */
import * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

export class Signal {
  private current: Deferred.Deferred<void> | undefined
  /** An Effect that completes at the next `fire` after this call. */
  get wait(): Effect.Effect<void> {
    return Deferred.await((this.current ??= Deferred.unsafeMake<void>(FiberId.none)))
  }
  fire(): void {
    const d = this.current
    if (d === undefined) return
    this.current = undefined
    Deferred.unsafeDone(d, Exit.void)
  }
}
