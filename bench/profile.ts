/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): where the samples fall by
 * package, the top functions by self time, and, for rrq's own code, the time
 * spent under each rrq function (its own frames plus the Effect runtime,
 * ioredis and Node work it caused, attributed to the nearest rrq frame).
 *
 *   npx tsx bench/profile.ts PROFILE.cpuprofile [--top 25] [--from US --to US]
 *   npm run bench -- --profile           (records and summarises the rrq worker and producer)
 */
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { flagNumber, parseFlags } from "./common.js"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Which package (or part of rrq) a frame belongs to. */
export const packageOf = (frame: CallFrame): string => {
  const { url, functionName } = frame
  if (url === "") {
    if (functionName === "(garbage collector)") return "(gc)"
    if (functionName === "(idle)") return "(idle)"
    if (functionName === "(program)") return "(program)"
    return "(native)"
  }
  if (url.startsWith("node:")) return "node internals"
  const nm = url.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const src = /\/(src|bench)\/(.+)$/.exec(url)
  if (src) return `${src[1]}/${src[2]!.replace(/\?.*$/, "")}`
  return url
}

const frameName = (f: CallFrame) => {
  const pkg = packageOf(f)
  return `${f.functionName || "(anonymous)"} ${pkg.startsWith("(") ? "" : `${pkg}:${f.lineNumber + 1}`}`.trim()
}

export interface Summary {
  readonly totalMs: number
  readonly byPackage: ReadonlyArray<readonly [string, number]>
  readonly topSelf: ReadonlyArray<readonly [string, number]>
  readonly underRrq: ReadonlyArray<readonly [string, number]>
}

/**
 * `window` (microseconds on the profile's clock, CLOCK_MONOTONIC): only the
 * samples taken inside it count, e.g. the timed part of a case without the
 * process start-up (module loading and compilation).
 */
export const summarize = (profile: CpuProfile, top = 25, window?: readonly [number, number]): Summary => {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const selfUs = new Map<number, number>()
  let t = profile.startTime
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    t += dt
    if (window && (t < window[0] || t > window[1])) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
  })
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)
  const pkgs = new Map<string, number>()
  const fns = new Map<string, number>()
  const rrq = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!
    add(pkgs, packageOf(node.callFrame), us)
    add(fns, frameName(node.callFrame), us)
    // attribute to the nearest rrq frame (src/...) up the stack
    let cur: number | undefined = id
    let owner = "(no rrq frame on the stack)"
    while (cur !== undefined) {
      const f = byId.get(cur)!.callFrame
      if (packageOf(f).startsWith("src/")) {
        owner = frameName(f)
        break
      }
      cur = parent.get(cur)
    }
    if (!["(idle)", "(program)", "(gc)"].includes(packageOf(node.callFrame))) add(rrq, owner, us)
  }
  const sorted = (m: Map<string, number>, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v / 1000] as const)
  return { totalMs: total / 1000, byPackage: sorted(pkgs, 20), topSelf: sorted(fns, top), underRrq: sorted(rrq, top) }
}

export const format = (s: Summary, title: string): string => {
  const busy = s.totalMs - (s.byPackage.find(([k]) => k === "(idle)")?.[1] ?? 0)
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1)}%`
  const section = (name: string, rows: ReadonlyArray<readonly [string, number]>) =>
    [`${name}`, ...rows.filter(([k]) => k !== "(idle)").map(([k, ms]) => `  ${pct(ms).padStart(6)}  ${ms.toFixed(0).padStart(6)} ms  ${k}`)]
  return [
    `${title}: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (percentages of busy time)`,
    ...section("by package:", s.byPackage),
    ...section("top functions by self time:", s.topSelf),
    ...section("by the nearest rrq function on the stack (self time of everything it called):", s.underRrq),
    ""
  ].join("\n")
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, ...rest] = process.argv.slice(2)
  if (!file) {
    process.stderr.write("usage: tsx bench/profile.ts FILE.cpuprofile [--top N]\n")
    process.exit(2)
  }
  const flags = parseFlags(rest)
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const window = flags["from"] === undefined ? undefined : ([flagNumber(flags, "from", 0), flagNumber(flags, "to", Number.MAX_SAFE_INTEGER)] as const)
  process.stdout.write(format(summarize(profile, flagNumber(flags, "top", 25), window), file))
}
