/**
 * What a worker knows of the queues it serves, so that it claims only those that may have
 * work (issue 11, defect 12: an idle worker used to claim every queue at every poll, 1,500
 * commands/s for 500 queues). Each queue has a time from which it may have a job due:
 * - now, at start, after a wake-up for work due at once, after a claim that got all it asked
 *   for, after a failed claim, and for every queue when wake-ups may have been missed (the
 *   store's subscription was (re)established);
 * - the next run-at, learnt from a claim's reply or from a wake-up for later work;
 * - never, when the queue's pending set was empty at its last claim.
 * A wake-up heard while a claim of the queue is in flight is kept and applied after its
 * reply, which may predate it.
 *
 * Times are local and monotonic (ms); a run-at enters as a duration measured on the store's
 * clock (run-at − the store's now, from the claim reply or the wake-up), so a local clock that
 * is off by any amount changes nothing (defect 5: a clock 60 s ahead spun 11k claims/s). The
 * poll floor: when a claim sent because a known run-at had come finds that job not due after
 * all (the store's clock disagrees with the time that passed here), the queue waits at least
 * `floorMs` before it is claimed again for that reason, so no disagreement of clocks can spin.
 */
import type { ClaimResult } from "../JobStore.js"

interface View {
  /** Local time from which the queue may have a job due (∞: none known). */
  dueAt: number
  /** `dueAt` is a run-at that was in the future when it was learnt (not "now"). */
  fromRunAt: boolean
  /** A claim is in flight; `heardAt` is the earliest wake-up heard since it was sent. */
  claiming: boolean
  /** Whether the claim in flight was sent because a known run-at had come. */
  expected: boolean
  heardAt: number
  heardFromRunAt: boolean
}

/** Names in turn, `n` at a time: the queues a safety-net poll or a backstop sweep looks at. */
export class Rotation {
  private next = 0
  constructor(private readonly names: ReadonlyArray<string>) {}
  take(n: number): Array<string> {
    const out: Array<string> = []
    for (let i = 0; i < Math.min(n, this.names.length); i++) {
      out.push(this.names[this.next]!)
      this.next = (this.next + 1) % this.names.length
    }
    return out
  }
}

export class QueueBoard {
  private readonly views = new Map<string, View>()

  constructor(queues: ReadonlyArray<string>, private readonly floorMs: number) {
    for (const q of queues) {
      this.views.set(q, { dueAt: 0, fromRunAt: false, claiming: false, expected: false, heardAt: Infinity, heardFromRunAt: false })
    }
  }

  /** A wake-up heard at local time `at`: work in `queue` is due in `dueInMs`. True when it moved the queue's time earlier. */
  heard(queue: string, dueInMs: number, at: number): boolean {
    const v = this.views.get(queue)
    if (v === undefined) return false
    const due = at + dueInMs
    const fromRunAt = dueInMs > 0
    if (v.claiming && due < v.heardAt) {
      v.heardAt = due
      v.heardFromRunAt = fromRunAt
    }
    if (due >= v.dueAt) return false
    v.dueAt = due
    v.fromRunAt = fromRunAt
    return true
  }

  isDue(queue: string, at: number): boolean {
    const v = this.views.get(queue)
    return v !== undefined && v.dueAt <= at
  }

  /** A claim of `queue` is sent at `at`. */
  sent(queue: string, at: number): void {
    const v = this.views.get(queue)!
    v.claiming = true
    v.expected = v.fromRunAt && v.dueAt <= at
    v.heardAt = Infinity
  }

  /** Its reply, handled at local time `at`. */
  replied(queue: string, result: ClaimResult, at: number): void {
    const v = this.views.get(queue)!
    v.claiming = false
    if (result.nextRunAt === undefined) {
      v.dueAt = Infinity
      v.fromRunAt = false
    } else if (result.nextRunAt <= result.now) {
      v.dueAt = at // more is due than the claim took
      v.fromRunAt = false
    } else {
      const wait = result.nextRunAt - result.now
      // the poll floor: the job we came for is not due by the store's clock
      v.dueAt = at + (v.expected && result.jobs.length === 0 ? Math.max(wait, this.floorMs) : wait)
      v.fromRunAt = true
    }
    this.merge(v)
  }

  /** The claim failed (Redis away): the queue is claimed again after the backoff. */
  failed(queue: string, at: number): void {
    const v = this.views.get(queue)!
    v.claiming = false
    v.dueAt = Math.min(v.dueAt, at)
    v.fromRunAt = false
    this.merge(v)
  }

  /** The earliest local time at which some queue may have a job due (∞: none known). */
  nextDue(): number {
    let next = Infinity
    for (const v of this.views.values()) if (v.dueAt < next) next = v.dueAt
    return next
  }

  private merge(v: View) {
    if (v.heardAt < v.dueAt) {
      v.dueAt = v.heardAt
      v.fromRunAt = v.heardFromRunAt
    }
    v.heardAt = Infinity
  }
}
