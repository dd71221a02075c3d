// A minimal JS keyspace and redis.call over it: only the commands claim.lua needs on its
// hot path, without TTLs or the WRONGTYPE checks of most commands (a lower bound of the cost).
export const makeKeyspace = () => {
  const keys = new Map() // key -> {type:'hash', m:Map} | {type:'zset', m:Map} | {type:'string', v}
  let now = 1_700_000_000_000
  const z = (k, create) => { let e = keys.get(k); if (!e && create) keys.set(k, e = { type: 'zset', m: new Map() }); if (e && e.type !== 'zset') throw new Error('WRONGTYPE'); return e?.m }
  const h = (k, create) => { let e = keys.get(k); if (!e && create) keys.set(k, e = { type: 'hash', m: new Map() }); if (e && e.type !== 'hash') throw new Error('WRONGTYPE'); return e?.m }
  const sorted = (m) => [...m].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const num = (s) => typeof s === 'number' ? String(s) : s
  const call = (cmd, ...a) => {
    switch (String(cmd).toUpperCase()) {
      case 'TIME': return [String(Math.floor(now / 1000)), String((now % 1000) * 1000)]
      case 'ZRANGE': { const m = z(a[0]); if (!m) return []; const s = sorted(m).slice(Number(a[1]), Number(a[2]) + 1); return a[3] ? s.flatMap(([k, v]) => [k, String(v)]) : s.map(([k]) => k) }
      case 'ZREM': { const m = z(a[0]); let n = 0; for (const x of a.slice(1)) if (m?.delete(x)) n++; return n }
      case 'ZADD': { const m = z(a[0], true); let i = 1; while (isNaN(Number(a[i]))) i++; for (; i < a.length; i += 2) m.set(a[i + 1], Number(a[i])); return 1 }
      case 'HMGET': { const m = h(a[0]); return a.slice(1).map((f) => m?.get(f) ?? false) }
      case 'HGET': { const m = h(a[0]); return m?.get(a[1]) ?? false }
      case 'HSET': { const m = h(a[0], true); for (let i = 1; i < a.length; i += 2) m.set(a[i], num(a[i + 1])); return 1 }
      case 'EXISTS': return keys.has(a[0]) ? 1 : 0
      case 'PUBLISH': return 0
      default: throw new Error('unsupported ' + cmd)
    }
  }
  return { keys, call, setNow: (t) => { now = t } }
}
