/**
 * The Redis store's pub/sub: one dedicated subscriber connection per store, a queue's
 * `wake`, `done` and `cancel` channels (Keys.ts) fanned out to their listeners, and the
 * store methods that listen to them: `onWake`, `onCancel`, `finishedSignal`.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { JobRef } from "../../Job.js"
import type { JobStoreShape } from "../../JobStore.js"
import type { RedisCtx } from "./context.js"

/** How long until the work a wake-up announces is due: `<run-at> <now>`, or a bare `<now>` (due at once). */
const dueIn = (message: string): number => {
  const space = message.indexOf(" ")
  if (space < 0) return 0
  const wait = Number(message.slice(0, space)) - Number(message.slice(space + 1))
  return wait > 0 ? wait : 0 // NaN too
}

/** Pub/sub fan-out: a channel's listeners are callbacks, and deferreds waiting for a job id. */
class Channels {
  private readonly byId = new Map<string, Map<string, Set<Deferred.Deferred<void>>>>()
  private readonly subscribed = new Map<string, Promise<unknown>>()
  private readonly listeners = new Map<string, Set<(message: string) => void>>()

  constructor(private readonly subscribe: (channels: ReadonlyArray<string>) => Promise<unknown>) {}

  /** Channels whose subscription is active: the hot path skips the promise hop for them. */
  readonly active = new Set<string>()

  /** Subscribes once per channel (the missing ones in one SUBSCRIBE); resolves when all are active. */
  ensure(channels: ReadonlyArray<string>): Promise<unknown> {
    const missing = channels.filter((c) => !this.subscribed.has(c))
    if (missing.length > 0) {
      const p = this.subscribe(missing).then(
        () => {
          for (const c of missing) this.active.add(c)
        },
        (e) => {
          for (const c of missing) this.subscribed.delete(c)
          throw e
        }
      )
      for (const c of missing) this.subscribed.set(c, p)
    }
    return Promise.all(channels.map((c) => this.subscribed.get(c)))
  }

  waitFor(channel: string, id: string): [Deferred.Deferred<void>, () => void] {
    const d = Deferred.unsafeMake<void>(undefined as never)
    let ids = this.byId.get(channel)
    if (!ids) this.byId.set(channel, (ids = new Map()))
    let set = ids.get(id)
    if (!set) ids.set(id, (set = new Set()))
    set.add(d)
    return [d, () => {
      set.delete(d)
      if (set.size === 0) ids.delete(id)
    }]
  }

  listen(channel: string, f: (message: string) => void): () => void {
    let set = this.listeners.get(channel)
    if (!set) this.listeners.set(channel, (set = new Set()))
    set.add(f)
    return () => set.delete(f)
  }

  onMessage(channel: string, message: string) {
    const fs = this.listeners.get(channel)
    if (fs) for (const f of fs) f(message)
    const ids = this.byId.get(channel)
    if (ids) {
      for (const id of message.split(" ")) {
        const set = ids.get(id)
        if (set) for (const w of set) Deferred.unsafeDone(w, Exit.void)
      }
    }
  }
}

/** Opens the store's subscriber connection (closed with the scope) and returns the methods that listen on it. */
export const make = (
  { client, keys }: RedisCtx
): Effect.Effect<Pick<JobStoreShape, "onWake" | "finishedSignal" | "onCancel">, never, Scope.Scope> =>
  Effect.gen(function*() {
    const subscriber = yield* client.connection("subscriber")
    const channels = new Channels((list) => subscriber.subscribe(...list))
    subscriber.on("message", (channel: string, message: string) => channels.onMessage(channel, message))
    // Messages published while the subscriber was disconnected are lost. On every reconnection,
    // once the channels are subscribed again (our own SUBSCRIBE of them answers after ioredis's,
    // which it sends right after this event), the wake listeners hear that they may have missed some.
    const missed = new Set<() => void>()
    let connected = subscriber.status === "ready"
    subscriber.on("ready", () => {
      if (!connected) return void (connected = true)
      const list = [...channels.active]
      if (list.length > 0) subscriber.subscribe(...list).then(() => missed.forEach((f) => f()), () => undefined)
    })

    /** Subscribes (one SUBSCRIBE for those missing); false when it failed (Redis away). */
    const subscribeAll = (list: ReadonlyArray<string>) =>
      Effect.suspend(() =>
        list.every((c) => channels.active.has(c))
          ? Effect.succeed(true)
          : Effect.promise(() => channels.ensure(list).then(() => true, () => false))
      )
    // Subscribing can fail while Redis is away; the caller then falls back to its poll delay.
    const subscribe = (channel: string) => Effect.asVoid(subscribeAll([channel]))

    /**
     * Subscribes the channels in one SUBSCRIBE. When that fails (Redis away), keeps trying
     * every 500 ms in the scope and calls `late` once it got through: messages sent
     * meanwhile were missed.
     */
    const subscribeRetrying = (list: ReadonlyArray<string>, late: () => void) =>
      Effect.flatMap(subscribeAll(list), (ok) =>
        ok ? Effect.void : Effect.asVoid(Effect.forkScoped(
          subscribeAll(list).pipe(
            Effect.delay(Duration.millis(500)),
            Effect.repeat({ until: (done) => done }),
            Effect.zipRight(Effect.sync(late))
          )
        )))

    const onWake: JobStoreShape["onWake"] = (qs, f) =>
      Effect.gen(function*() {
        const all = () => qs.forEach((q) => f(q, 0))
        yield* Effect.acquireRelease(
          Effect.sync(() => {
            missed.add(all)
            return qs.map((queue) => channels.listen(keys.queue(queue).wake, (message) => f(queue, dueIn(message))))
          }),
          (stops) =>
            Effect.sync(() => {
              missed.delete(all)
              stops.forEach((stop) => stop())
            })
        )
        // once subscribed after a failure, wake-ups sent meanwhile may have been missed
        yield* subscribeRetrying(qs.map((q) => keys.queue(q).wake), all)
      })

    const finishedSignal: JobStoreShape["finishedSignal"] = (ref) =>
      Effect.gen(function*() {
        const channel = keys.queue(ref.queue).done
        yield* subscribe(channel)
        const [d, unregister] = yield* Effect.acquireRelease(
          Effect.sync(() => channels.waitFor(channel, ref.id)),
          ([, unregister]) => Effect.sync(unregister)
        )
        void unregister
        return Deferred.await(d)
      })

    const onCancel: JobStoreShape["onCancel"] = (qs, f) =>
      Effect.gen(function*() {
        yield* Effect.acquireRelease(
          Effect.sync(() =>
            qs.map((queue) => channels.listen(keys.queue(queue).cancel, (id) => f(new JobRef({ queue, id }))))
          ),
          (stops) => Effect.sync(() => stops.forEach((stop) => stop()))
        )
        // not subscribed, cancels would only be noticed through lease renewal
        yield* subscribeRetrying(qs.map((q) => keys.queue(q).cancel), () => undefined)
      })

    return { onWake, finishedSignal, onCancel }
  })
