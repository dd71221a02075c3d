/**
 * How many jobs a worker asks for, and when. A worker holds (runs, buffers or asks for) at
 * most its capacity in jobs: its concurrency, or for short jobs (< 20 ms by a moving
 * average of handler time) four times that, so the next batches are claimed while this one
 * runs: at most ~60 ms of work waits per slot, and a worker never sits on long jobs others
 * could run. It claims once about a quarter of its slots are free, so batches stay large
 * under load.
 */

/** Handler time below which a worker claims ahead (ms). */
export const SHORT_JOB_MS = 20

export class ClaimPolicy {
  /** Moving average of handler time (ms); infinite until the first job ends. */
  private averageRunMs = Number.POSITIVE_INFINITY
  private readonly threshold: number

  constructor(readonly concurrency: number) {
    this.threshold = Math.max(1, Math.floor(concurrency / 4))
  }

  /** A job's handler took `ms`. */
  ran(ms: number): void {
    this.averageRunMs = this.averageRunMs === Number.POSITIVE_INFINITY ? ms : this.averageRunMs * 0.9 + ms * 0.1
  }

  /** Whether jobs are short enough to claim the next batch while this one runs. */
  get claimsAhead(): boolean {
    return this.averageRunMs < SHORT_JOB_MS
  }

  /** The most jobs the worker holds at once. */
  get capacity(): number {
    return this.claimsAhead ? 4 * this.concurrency : this.concurrency
  }

  /** How many jobs to claim now (0: not now), holding `held` (running and buffered). */
  claimable(held: number): number {
    const free = this.capacity - held
    return free > 0 && (free >= this.threshold || held === 0) ? free : 0
  }
}
