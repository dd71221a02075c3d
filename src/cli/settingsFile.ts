/**
 * Loads a settings file: `.js`/`.mjs` natively, `.ts`/`.mts` through tsx, an
 * optional peer loaded only for them. Like any module, a `.ts` file is an ES
 * module when the nearest package.json says `"type": "module"`; elsewhere name
 * it `.mts`. Its default export is `defineConfig({ handlers, settings?, layer?,
 * queues? })` or a plain object of the same shape.
 */
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import type { Config } from "../Handler.js"
import { isHandler } from "../Handler.js"
import { UsageError } from "./shared.js"

const fail = (file: string, why: string) => new UsageError({ message: `settings file ${file}: ${why}` })

const TYPESCRIPT = /\.[cm]?ts$/

/** The keys of `Config` (Handler.ts): anything else is a typo worth reporting, not ignoring. */
const KEYS: ReadonlyArray<string> = ["handlers", "settings", "queues", "layer"]

/**
 * Registers tsx's loader, found next to rrq or else from the settings file's own
 * project (where `npm install --save-dev tsx` puts it).
 */
const registerTsx = (path: string) =>
  Effect.tryPromise({
    try: async () => {
      const api = await import("tsx/esm/api").catch(() =>
        import(pathToFileURL(createRequire(path).resolve("tsx/esm/api")).href) as Promise<typeof import("tsx/esm/api")>
      )
      api.register()
    },
    catch: () =>
      fail(path, "is TypeScript and needs tsx to load: npm install --save-dev tsx (or compile it to .js/.mjs)")
  })

export const load = (file: string): Effect.Effect<Config<unknown>, UsageError> =>
  Effect.gen(function*() {
    const path = resolve(file)
    if (!existsSync(path)) return yield* new UsageError({ message: `settings file not found: ${path}` })
    if (TYPESCRIPT.test(path)) yield* registerTsx(path)
    const mod = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(path).href) as Promise<Record<string, unknown>>,
      catch: (e) => fail(path, `cannot be loaded: ${e instanceof Error ? e.message : String(e)}`)
    })
    // a CommonJS or tsx-compiled module may nest the default export once more
    let config = mod.default as Record<string, unknown> | undefined
    if (config && "default" in config && !("handlers" in config)) config = config.default as Record<string, unknown>
    if (config === undefined || config === null) {
      return yield* fail(path, "has no default export (export default defineConfig({ handlers: { ... } }))")
    }
    if (typeof config !== "object") return yield* fail(path, "its default export must be an object")
    // __esModule: the marker of a module compiled to CommonJS
    const unknown = Object.keys(config).filter((k) => !KEYS.includes(k) && k !== "__esModule")
    if (unknown.length > 0) {
      return yield* fail(
        path,
        `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")} in its default export (allowed: ${KEYS.join(", ")})`
      )
    }
    const handlers = config.handlers
    if (typeof handlers !== "object" || handlers === null) {
      return yield* fail(path, "its default export has no `handlers` object")
    }
    for (const [name, h] of Object.entries(handlers)) {
      if (typeof h !== "function" && !isHandler(h)) {
        return yield* fail(path, `handler '${name}' is neither a function nor Handler.make(...)`)
      }
    }
    if (config.settings !== undefined && (typeof config.settings !== "object" || config.settings === null)) {
      return yield* fail(path, "`settings` must be an object")
    }
    if (config.queues !== undefined && !(Array.isArray(config.queues) && config.queues.every((q) => typeof q === "string"))) {
      return yield* fail(path, "`queues` must be an array of queue names")
    }
    return config as unknown as Config<unknown>
  })
