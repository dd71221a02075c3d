/**
 * What every command shares and needs no @effect/cli: the errors that decide the
 * exit code, settings resolution (settings file < RRQ_* variables < flags), the
 * store layers, and output. workerMain, which is not bundled, loads only this.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Client from "../Client.js"
import * as JobStore from "../JobStore.js"
import * as Redis from "../Redis.js"
import * as Settings from "../Settings.js"
import { UsageError } from "./errors.js"

export { CheckFailed, UsageError } from "./errors.js"
export { messageOf } from "../internal/errorText.js"
export { stderrLogger } from "./output.js"

/** Resolves settings: defaults < the settings file < RRQ_* variables < command-line flags. */
export const resolveSettings = (flags: { readonly redisUrl: Option.Option<string> }, base: Settings.SettingsInput = {}) =>
  Effect.gen(function*() {
    const env = yield* Settings.fromEnv.pipe(Effect.mapError((e) => new UsageError({ message: `invalid RRQ_* variable: ${e.message}` })))
    const input = { ...base, ...env, ...Option.match(flags.redisUrl, { onNone: () => ({}), onSome: (url) => ({ redisUrl: url }) }) }
    return yield* Either.mapLeft(Settings.resolve(input), (e) => new UsageError({ message: e.message }))
  })

/** RrqSettings, the Redis JobStore and an RrqClient over one connection. */
export const storeLayer = (settings: Settings.Settings) => {
  const s = Layer.succeed(Settings.RrqSettings, settings)
  return Client.layer.pipe(
    Layer.provideMerge(JobStore.layerRedis.pipe(Layer.provide(Redis.layerFromSettings))),
    Layer.provideMerge(s)
  )
}

export type StoreServices = Client.RrqClient | JobStore.JobStore | Settings.RrqSettings

/** Runs `body` with the store of the resolved settings. */
export const withStore = <A, E>(
  flags: { readonly redisUrl: Option.Option<string> },
  body: Effect.Effect<A, E, StoreServices>
) =>
  Effect.flatMap(resolveSettings(flags), (settings) => Effect.provide(body, storeLayer(settings)))

/** Parses a duration flag (`500ms`, `2s`, `5m`, `1h`) or fails with a usage error naming it. */
export const duration = (flag: string, value: string) =>
  Either.mapLeft(Settings.parseDuration(value, `--${flag}`), (e) => new UsageError({ message: e.message }))

export const printJson = (value: unknown) => Effect.sync(() => process.stdout.write(`${JSON.stringify(value)}\n`))

export const print = (line = "") => Effect.sync(() => process.stdout.write(`${line}\n`))

/** A plain text table: header row, then rows, columns padded to their widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) => {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)))
  return print(cells.map((r) => r.map((c, i) => (c ?? "").padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"))
}

export const time = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString())
