/**
 * The multi-process pool behind `rrq worker run --num-workers N`: forks N
 * child workers, restarts a crashed child with backoff (1 s → 30 s, reset after
 * 60 s up), forwards SIGINT/SIGTERM, escalates to SIGKILL after grace + 5 s, and
 * gives up with exit code 1 on a crash loop. Children watch their IPC channel
 * and stop gracefully when the parent dies, even by SIGKILL.
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, fork } from "node:child_process"
import { RESTARTS_ENV } from "./metrics/processFigures.js"

export interface Options {
  readonly numWorkers: number
  /** The module to fork (the rrq binary) and the arguments of each child. */
  readonly modulePath: string
  readonly args: ReadonlyArray<string>
  /** Variables each child gets on top of the parent's environment. */
  readonly env?: Readonly<Record<string, string>>
  readonly shutdownGraceMs: number
  /** Crashes in a row (each under `stableMs` of uptime) after which the pool gives up. */
  readonly maxCrashes?: number
  readonly log?: (line: string) => void
  /** Called once with the pool's handle (the metrics endpoint asks the children through it). */
  readonly expose?: (pool: Pool) => void
}

/** What a child says of itself when asked (`ask`): any JSON. */
export interface Pool {
  /** Each running child's answer to `question` (undefined when it did not answer within `timeoutMs`). */
  readonly ask: <A>(question: string, timeoutMs: number) => Promise<ReadonlyArray<{ readonly index: number; readonly answer: A | undefined }>>
  /** Children restarted after a crash, since the start. */
  readonly restarts: () => number
  readonly size: number
}

/** In a child: answers the supervisor's `question` with `answer()` (a no-op outside a pool). */
export const answer = (question: string, reply: () => Promise<unknown>): void => {
  if (!process.env[SUPERVISED_ENV] || !process.send) return
  process.on("message", (message: { rrq?: string; id?: number }) => {
    if (message?.rrq !== question) return
    reply().then((value) => process.send?.({ rrq: question, id: message.id, answer: value }), () => undefined)
  })
}

/** Set in every child, so it knows to watch its parent. */
export const SUPERVISED_ENV = "RRQ_SUPERVISED"


const BACKOFF_MIN_MS = 1_000
const BACKOFF_MAX_MS = 30_000
const STABLE_MS = 60_000

interface Slot {
  readonly index: number
  restarts: number
  child: ChildProcess | undefined
  startedAt: number
  crashes: number
  restartTimer: NodeJS.Timeout | undefined
}

/** Runs the pool until every child has stopped; resolves with the exit code for the parent. */
export const run = (options: Options): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
    const maxCrashes = options.maxCrashes ?? 5
    const slots: Array<Slot> = Array.from({ length: options.numWorkers }, (_, index) => ({
      index,
      restarts: 0,
      child: undefined,
      startedAt: 0,
      crashes: 0,
      restartTimer: undefined
    }))
    let stopping = false
    let exitCode = 0
    let restarts = 0
    let asked = 0
    options.expose?.({
      size: options.numWorkers,
      restarts: () => restarts,
      ask: <A>(question: string, timeoutMs: number) =>
        Promise.all(slots.filter((slot) => slot.child?.connected).map((slot) =>
          new Promise<{ index: number; answer: A | undefined }>((resolve) => {
            const child = slot.child!
            const id = ++asked
            const done = (answer: A | undefined) => {
              clearTimeout(timer)
              child.off("message", onMessage)
              resolve({ index: slot.index, answer })
            }
            const onMessage = (m: { rrq?: string; id?: number; answer?: A }) => {
              if (m?.rrq === question && m.id === id) done(m.answer)
            }
            const timer = setTimeout(() => done(undefined), timeoutMs)
            child.on("message", onMessage)
            child.send({ rrq: question, id }, (e) => e && done(undefined))
          })
        ))
    })
    let killTimer: NodeJS.Timeout | undefined

    const finishIfDone = () => {
      if (slots.some((s) => s.child !== undefined || s.restartTimer !== undefined)) return
      if (killTimer) clearTimeout(killTimer)
      process.removeListener("SIGINT", onSignal)
      process.removeListener("SIGTERM", onSignal)
      resume(Effect.succeed(exitCode))
    }

    const start = (slot: Slot) => {
      slot.restartTimer = undefined
      const child = fork(options.modulePath, [...options.args], {
        env: { ...process.env, ...options.env, [SUPERVISED_ENV]: "1", [RESTARTS_ENV]: String(slot.restarts) },
        stdio: ["ignore", "inherit", "inherit", "ipc"]
      })
      slot.child = child
      slot.startedAt = Date.now()
      log(`rrq supervisor: worker ${slot.index} started (pid ${child.pid})`)
      child.on("exit", (code, signal) => {
        slot.child = undefined
        if (stopping) return finishIfDone()
        const uptime = Date.now() - slot.startedAt
        if (code === 0 && signal === null) {
          log(`rrq supervisor: worker ${slot.index} exited`)
          return finishIfDone()
        }
        slot.crashes = uptime >= STABLE_MS ? 1 : slot.crashes + 1
        if (slot.crashes >= maxCrashes) {
          log(`rrq supervisor: worker ${slot.index} crashed ${slot.crashes} times in a row; giving up`)
          exitCode = 1
          return shutdown("SIGTERM")
        }
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (slot.crashes - 1))
        log(
          `rrq supervisor: worker ${slot.index} (pid ${child.pid}) died (${signal ?? `exit code ${code}`}); restarting in ${delay / 1000}s`
        )
        slot.restartTimer = setTimeout(() => {
          restarts++
          slot.restarts++
          start(slot)
        }, delay)
      })
    }

    const shutdown = (signal: NodeJS.Signals) => {
      const first = !stopping
      stopping = true
      for (const slot of slots) {
        if (slot.restartTimer) {
          clearTimeout(slot.restartTimer)
          slot.restartTimer = undefined
        }
        slot.child?.kill(signal)
      }
      if (first) {
        killTimer = setTimeout(() => {
          log("rrq supervisor: workers still running after the grace period; sending SIGKILL")
          for (const slot of slots) slot.child?.kill("SIGKILL")
        }, options.shutdownGraceMs + 5_000)
      }
      finishIfDone()
    }

    // The first signal asks the children for a graceful stop; a second one is
    // forwarded too, and makes them skip the grace period.
    const onSignal = (signal: NodeJS.Signals) => shutdown(signal)
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)

    for (const slot of slots) start(slot)
    return Effect.sync(() => shutdown("SIGTERM"))
  })
