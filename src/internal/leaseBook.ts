/**
 * What a worker knows of the leases it holds, on its own monotonic clock: when each ends
 * (the time its claim or last renewal was *sent*, plus the lease: a reply can come late,
 * never early), and which jobs were cancelled lately before it held them.
 */
import type { ClaimedJob } from "../JobStore.js"

export class LeaseBook {
  private readonly ends = new WeakMap<ClaimedJob, number>()
  /** Keys of jobs cancelled while running elsewhere (or not yet here), oldest first, with when. */
  private readonly cancelled = new Map<string, number>()

  constructor(private readonly leaseMs: number) {}

  /** The store granted or renewed these leases on a call sent at `sentAt`. */
  granted(jobs: Iterable<ClaimedJob>, sentAt: number): void {
    const end = sentAt + this.leaseMs
    for (const job of jobs) this.ends.set(job, end)
  }

  /** A job is started only while at least half its lease is left (a late claim reply, a stalled loop). */
  tooOld(job: ClaimedJob, now: number): boolean {
    return (this.ends.get(job) ?? 0) - now < this.leaseMs / 2
  }

  /**
   * A cancel for a job this worker does not hold (yet): the message may come before the
   * reply of the claim that took it (another connection), so it is kept for one lease.
   */
  cancelledBeforeHeld(key: string, now: number): void {
    this.cancelled.set(key, now)
    for (const [k, at] of this.cancelled) {
      if (now - at < this.leaseMs) break
      this.cancelled.delete(k)
    }
  }

  /** Whether a job just claimed was cancelled on its way here (then forgotten). */
  takeCancelled(key: string): boolean {
    return this.cancelled.size > 0 && this.cancelled.delete(key)
  }
}
