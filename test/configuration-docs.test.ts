/**
 * docs/configuration.md's table of settings is `Settings.defaults`: every setting once, its
 * `RRQ_*` variable (which really sets it), and its default as the table writes it.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Settings from "../src/Settings.js"

const doc = readFileSync("docs/configuration.md", "utf8")
const section = doc.slice(doc.indexOf("## Settings"), doc.indexOf("## Command-line"))
const rows = [...section.matchAll(/^\| `(\w+)` \| `(RRQ_\w+)` \| `([^`]*)` \|/gm)].map((m) => ({ key: m[1]!, variable: m[2]!, value: m[3]! }))

const units: ReadonlyArray<[string, number]> = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]]
/** A default as the table writes it: a duration in its largest whole unit, anything else as text. */
const written = (key: string, value: unknown) => {
  if (key.endsWith("Ms") && typeof value === "number" && value > 0) {
    const unit = units.find(([, ms]) => value % ms === 0)
    return unit ? `${value / unit[1]}${unit[0]}` : `${value}ms`
  }
  return String(value)
}

const constantCase = (key: string) => `RRQ_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`

/** A value of the setting's kind, different from its default. */
const sample = (key: string, value: unknown): [string, unknown] => {
  if (key === "unknownFunction") return ["retry", "retry"]
  if (key === "redisUrl") return ["redis://127.0.0.1:7000/1", "redis://127.0.0.1:7000/1"]
  if (typeof value === "boolean") return [String(!value), !value]
  if (key.endsWith("Ms")) return ["7s", 7_000]
  if (key === "pollJitter") return ["0.25", 0.25]
  if (typeof value === "number") return ["7", 7]
  return ["other", "other"]
}

describe("docs/configuration.md", () => {
  it("lists every setting once, with its variable and its default", () => {
    expect(rows.map((r) => r.key).sort()).toEqual(Object.keys(Settings.defaults).sort())
    for (const row of rows) {
      expect(row.variable, row.key).toBe(constantCase(row.key))
      expect(row.value, row.key).toBe(written(row.key, Settings.defaults[row.key as keyof Settings.Settings]))
    }
  })

  it("each variable sets its setting", async () => {
    for (const row of rows) {
      const [text, parsed] = sample(row.key, Settings.defaults[row.key as keyof Settings.Settings])
      process.env[row.variable] = text
      const settings = await Effect.runPromise(Effect.flatMap(Settings.fromEnv, (input) => Settings.resolve(input)))
        .finally(() => delete process.env[row.variable])
      expect(settings[row.key as keyof Settings.Settings], row.variable).toEqual(parsed)
    }
  })
})
