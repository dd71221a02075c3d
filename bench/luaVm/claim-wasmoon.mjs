// The embedded-Lua evaluation of docs/architecture.md ("The memory store"): the real
// lua/claim.lua in wasmoon (Lua 5.4 in WebAssembly) over a JS keyspace (./shim.mjs).
// wasmoon is no dependency of rrq; run it from a scratch folder:
//   mkdir /tmp/luavm && cd /tmp/luavm && npm init -y && npm i wasmoon@1.16.0
//   cp <repo>/bench/luaVm/*.mjs . && node claim-wasmoon.mjs <repo>
// Compare with the memory store's own claim: npx tsx bench/memoryClaim.ts
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { makeKeyspace } from './shim.mjs'
const t0 = performance.now()
const { LuaFactory } = await import('wasmoon')
const t1 = performance.now()
const lua = await new LuaFactory().createEngine()
const t2 = performance.now()
console.log(`wasmoon import ${(t1 - t0).toFixed(1)} ms, engine ${(t2 - t1).toFixed(1)} ms`)
const dir = new URL('lua/', pathToFileURL(process.argv[2] ?? process.cwd()) + '/').pathname
const src = (n) => readFileSync(dir + n + '.lua', 'utf8').replace(/^-- @include (\w+)$/m, (_, i) => readFileSync(dir + 'include/' + i + '.lua', 'utf8'))
const ks = makeKeyspace()
lua.global.set('jscall', ks.call)
lua.doStringSync(`unpack = table.unpack
redis = { call = function(...) return jscall(...) end, pcall = function(...) local ok, r = pcall(jscall, ...) if ok then return r end return { err = tostring(r) } end }
function runScript(f, keys, argv) KEYS = keys ARGV = argv return f() end`)
const compile = (name) => lua.doStringSync(`return function() ${src(name).replace(/^#!.*\n/, '')} end`)
const trivial = lua.doStringSync('return function() return 1 end')
const run = lua.global.get('runScript')
const bench = (label, n, f) => { for (let i = 0; i < 200; i++) f(i); const s = performance.now(); for (let i = 0; i < n; i++) f(i); const us = (performance.now() - s) * 1000 / n; console.log(`${label}: ${us.toFixed(1)} µs/call`); return us }
bench('trivial script (KEYS/ARGV set)', 20000, () => run(trivial, ['a'], ['1']))
const tc = performance.now(); const claim = compile('claim'); console.log(`compile claim.lua: ${(performance.now() - tc).toFixed(1)} ms`)
const P = 'rrq:{default}:'
const K = [P + 'pending', P + 'active', P + 'dlq', P + 'stats']
const seed = (i, n) => { for (let j = 0; j < n; j++) { const id = `j${i}-${j}`; ks.call('HSET', P + 'job:' + id, 'id', id, 'functionName', 'add', 'params', '{}', 'status', 'PENDING', 'currentRetries', '0', 'maxRetries', '3', 'enqueuedAt', '1', 'stalls', '0'); ks.call('ZADD', K[0], '1', id) } }
let out
for (const n of [1, 10]) {
  bench(`claim.lua count ${n}, ${n} due (seed in JS)`, 5000, (i) => { seed(i, n); out = run(claim, K, [P, 'default', String(n), '30000', 'w1', 'tok', '0', '60000']); ks.call('ZREM', K[1], ...ks.keys.get(K[1]).m.keys()) })
}
console.log('reply sample', JSON.stringify(out).slice(0, 200))
bench('claim.lua on an empty queue', 20000, () => run(claim, K, [P, 'default', '1', '30000', 'w1', 'tok', '0', '60000']))
bench('seed alone (JS)', 5000, (i) => seed(i, 1))
