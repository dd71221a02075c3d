/** The memory store's keyspace model (src/internal/memory/keyspace.ts): the Redis behaviours its script twins rely on. */
import { describe, expect, it } from "vitest"
import * as K from "../src/internal/memory/keyspace.js"

const at = (now = 1_000) => ({ q: K.emptyQueue("default", "rrq:{default}:"), now })

describe("memory keyspace", () => {
  it("orders equal scores bytewise, as UTF-8 (a surrogate pair sorts above U+E000–U+FFFF)", () => {
    const members = ["b", "a", "ab", "\u{1F600}", "\uFFFD", "é", "A"]
    expect([...members].sort(K.compareMembers)).toEqual(["A", "a", "ab", "b", "é", "\uFFFD", "\u{1F600}"])
    const z = new Map<string, number>(members.map((m) => [m, 1]))
    z.set("z", 0)
    expect(K.zsorted(z).map(([m]) => m)).toEqual(["z", "A", "a", "ab", "b", "é", "\uFFFD", "\u{1F600}"])
    expect(K.zfirst(z)).toEqual(["z", 0])
  })

  it("ZRANGEBYSCORE caps at max and count; index ranges count negative indexes from the end", () => {
    const z = new Map([["c", 3], ["a", 1], ["b", 2]])
    expect(K.zrangeByScore(z, 2, -1)).toEqual([["a", 1], ["b", 2]])
    expect(K.zrangeByScore(z, 10, 1)).toEqual([["a", 1]])
    expect(K.indexRange([0, 1, 2, 3], 1, -2)).toEqual([1, 2])
    expect(K.indexRange([0, 1, 2, 3], -10, 1)).toEqual([0, 1])
    expect(K.indexRange([0, 1, 2, 3], 3, 1)).toEqual([])
    expect(K.indexRange([0, 1], 5, 9)).toEqual([])
  })

  it("expires keys lazily once the clock reaches their deadline", () => {
    const keys = new Map([["k", { value: "v", expiresAt: 2_000 }]])
    expect(K.live(keys, "k", 1_999)?.value).toBe("v")
    expect(K.live(keys, "k", 2_000)).toBeUndefined()
    expect(keys.has("k")).toBe(false)
  })

  it("hashes: HSET writes text, HDEL of the last field removes the key, a string key answers K.WRONGTYPE", () => {
    const c = at()
    K.hset(c, "j", { n: 1, s: "x" })
    expect(K.hget(c, "j", "n")).toBe("1")
    expect(K.keyType(c, "j")).toBe("hash")
    K.hdel(c, "j", "n", "s")
    expect(K.keyType(c, "j")).toBe("none")
    K.putRecord(c.q, "bad", "not-a-hash")
    expect(K.keyType(c, "bad")).toBe("string")
    expect(() => K.hash(c, "bad")).toThrow(new K.ScriptError(K.WRONGTYPE))
    K.putRecord(c.q, "empty", {})
    expect(K.keyType(c, "empty")).toBe("none")
  })

  it("Lua compatibility: tonumber, %.17g spellings of inf and nan, %q quoting", () => {
    expect(K.luaToNumber(" 12 ")).toBe(12)
    expect(K.luaToNumber("1e3")).toBe(1000)
    expect(K.luaToNumber("abc")).toBeUndefined()
    expect(K.luaToNumber("")).toBeUndefined()
    expect(K.luaToNumber(undefined)).toBeUndefined()
    expect([Infinity, -Infinity, NaN, 3, 0.5].map(K.luaNumberString)).toEqual(["inf", "-inf", "nan", "3", "0.5"])
    expect(K.luaQuote("a\"b\\c\nd\re\0")).toBe("\"a\\\"b\\\\c\\\nd\\re\\000\"")
  })
})
