import { describe, expect, it } from "@effect/vitest"
import { read } from "../src/internal/lua.js"
import { expandIncludes, names, source } from "../src/internal/scripts.js"

describe("Scripts", () => {
  it("expands every include of a file, not only the first", () => {
    const text = ["#!lua", "-- @include one", "local x = 1", "-- @include two", "return x"].join("\n")
    expect(expandIncludes(text, (name) => `-- body of ${name}`)).toBe(
      ["#!lua", "-- body of one", "local x = 1", "-- body of two", "return x"].join("\n")
    )
  })

  it("leaves no include line in any script's source", () => {
    for (const name of names) {
      expect(source(name)).not.toMatch(/^-- @include /m)
      expect(source(name)).toContain(read("include/common.lua").split("\n")[0]!)
    }
  })
})
