/**
 * The memory store's stand-ins for the Redis store's pub/sub channels of a queue:
 * `wake` (work may be due), `done` (a job reached a terminal state; waiters are
 * one-shot) and `cancel` (a running job was cancelled). Nothing is ever missed in memory.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { JobRef } from "../../Job.js"

type Channel<A> = Map<string, Set<(message: A) => void>>

/** A pub/sub message: every listener hears it (a throwing one does not stop the rest). */
const publish = <A>(listeners: Set<(message: A) => void> | undefined, message: A): void => {
  if (listeners === undefined) return
  for (const listener of [...listeners]) {
    try {
      listener(message)
    } catch {
      // a subscriber's failure is its own, as with a pub/sub message handler
    }
  }
}

/** SUBSCRIBE in the scope: one listener per queue given (listed twice, heard twice). */
const listen = <A>(channel: Channel<A>, names: ReadonlyArray<string>, f: (queue: string, message: A) => void) =>
  Effect.forEach(names, (queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const listener = (message: A) => f(queue, message)
        let listeners = channel.get(queue)
        if (listeners === undefined) channel.set(queue, (listeners = new Set()))
        listeners.add(listener)
        return listener
      }),
      (listener) =>
        Effect.sync(() => {
          const listeners = channel.get(queue)
          listeners?.delete(listener)
          if (listeners?.size === 0) channel.delete(queue)
        })
    ), { discard: true })

export const make = () => {
  // the `wake` channel's listeners, by queue: each hears how long until the work is due
  const wakeListeners: Channel<number> = new Map()
  const cancelListeners: Channel<string> = new Map()
  // the `done` channel's waiters, by queue and job id
  const finished = new Map<string, Map<string, Set<Deferred.Deferred<void>>>>()

  return {
    /** PUBLISH wake: work in the queue is due in `dueInMs` (the message `<run-at> <now>`). */
    wake: (queue: string, dueInMs = 0): void => publish(wakeListeners.get(queue), Math.max(0, dueInMs)),

    /** PUBLISH done for one job: its waiters are released. */
    done: (queue: string, id: string): void => {
      const byId = finished.get(queue)
      const waiters = byId?.get(id)
      if (byId === undefined || waiters === undefined) return
      byId.delete(id)
      for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
    },

    /** PUBLISH cancel: a running job of the queue was cancelled. */
    cancel: (queue: string, id: string): void => publish(cancelListeners.get(queue), id),

    /** Listens on each queue's `wake` channel. */
    onWake: (names: ReadonlyArray<string>, f: (queue: string, dueInMs: number) => void) =>
      listen(wakeListeners, names, f),

    /** Listens on each queue's `cancel` channel (a queue listed twice hears each message twice, as in the Redis store). */
    onCancel: (names: ReadonlyArray<string>, f: (ref: JobRef) => void) =>
      listen(cancelListeners, names, (queue, id: string) => f(new JobRef({ queue, id }))),

    /** Arms a wait for the job's `done` message, until the scope closes. */
    finishedSignal: Effect.fn("MemoryStore.finishedSignal")(function*(ref: JobRef) {
      const waiter = yield* Deferred.make<void>()
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          let byId = finished.get(ref.queue)
          if (byId === undefined) finished.set(ref.queue, (byId = new Map()))
          let waiters = byId.get(ref.id)
          if (waiters === undefined) byId.set(ref.id, (waiters = new Set()))
          waiters.add(waiter)
        }),
        () =>
          Effect.sync(() => {
            const byId = finished.get(ref.queue)
            const waiters = byId?.get(ref.id)
            waiters?.delete(waiter)
            if (waiters?.size === 0) byId?.delete(ref.id)
          })
      )
      return Deferred.await(waiter)
    })
  }
}

export type Signals = ReturnType<typeof make>
