/**
 * The packed package, as a new user gets it: `npm pack` the repo (dist/ is
 * built by the test command beforehand), install the tarball into a fresh
 * consumer project beside `effect` and `@types/node` only (no tsx), and use it
 * the ways apps do: ESM and CommonJS programs on plain node, TypeScript type
 * checks under three module settings, the `rrq` binary, an esbuild bundle,
 * and what the tarball holds.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..")
const TSC = join(ROOT, "node_modules/typescript/bin/tsc")

interface Result {
  readonly command: string
  readonly code: number
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * The environment of every child: ours, without what would make the child
 * depend on how the test was started (npm's lifecycle variables, node options,
 * rrq settings of the developer's shell, vitest's markers).
 */
const baseEnv = (): Record<string, string> => {
  const keep = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig"])
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue
    if (/^(npm_|RRQ_|VITEST)/i.test(key) && !keep.has(key)) continue
    if (key === "NODE_OPTIONS" || key === "NODE_PATH" || key === "INIT_CWD") continue
    env[key] = value
  }
  return env
}

const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string>; readonly timeout?: number }
): Promise<Result> =>
  new Promise((done) => {
    const command = [file, ...args].join(" ")
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...baseEnv(), ...options.env },
        timeout: options.timeout ?? 45_000,
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
        done({ command, code, signal: error?.signal ?? null, stdout, stderr })
      }
    )
  })

const node = (args: ReadonlyArray<string>, options: Parameters<typeof run>[2]) => run(process.execPath, args, options)

/** What a failed expectation shows: the command, how it ended, and its output. */
const show = (r: Result, what = ""): string =>
  `${what ? `${what}\n` : ""}$ ${r.command}\nexit ${r.code}${r.signal ? ` (signal ${r.signal}, timed out?)` : ""}\n` +
  `--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter((l) => l !== "")

const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`

/** The README's "A taste" example, importing the package by its published name. */
const readmeTaste = (): string => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8")
  const section = readme.split(/^## A taste\s*$/m)[1]
  const code = section?.match(/```ts\n([\s\S]*?)```/)?.[1]
  if (code === undefined) throw new Error(`README.md has no "## A taste" section with a \`\`\`ts block`)
  return code.replace(/from "rrq"/g, `from "effect-rrq"`)
}

/** The Promise program of (a) and (g): a worker, one `add` job, its result on stdout. */
const promiseProgram = `import { PromiseApi } from "effect-rrq"

const rrq = PromiseApi.connect({ redisUrl: process.env.APP_REDIS_URL, keyPrefix: process.env.APP_KEY_PREFIX })
try {
  const worker = await rrq.startWorker({ handlers: { add: async ({ a, b }) => a + b } })
  const job = await rrq.enqueue("add", { a: 2, b: 3 })
  console.log(await rrq.waitForResult(job, { timeout: "10 seconds" }))
  await worker.stop()
} finally {
  await rrq.close()
}
`

const commonJsProgram = `const { PromiseApi } = require("effect-rrq");

(async () => {
  const rrq = PromiseApi.connect({ redisUrl: process.env.APP_REDIS_URL, keyPrefix: process.env.APP_KEY_PREFIX });
  try {
    const worker = await rrq.startWorker({ handlers: { add: async ({ a, b }) => a + b } });
    const job = await rrq.enqueue("add", { a: 2, b: 3 });
    console.log(await rrq.waitForResult(job, { timeout: "10 seconds" }));
    await worker.stop();
  } finally {
    await rrq.close();
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`

const compilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  skipLibCheck: false,
  noEmit: true,
  types: ["node"],
  lib: ["ES2022"],
  target: "ES2022"
}

const writeJson = (path: string, value: unknown) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)

interface PackedFile {
  readonly path: string
  readonly size: number
}

interface Packed {
  readonly filename: string
  readonly version: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<PackedFile>
}

describe("the packed package, installed into a fresh app", () => {
  const base = mkdtempSync(join(tmpdir(), "rrq-package-"))
  const packDir = join(base, "pack")
  const app = join(base, "consumer")
  const outDir = join(base, "out")
  const bin = join(app, "node_modules/.bin/rrq")
  let packed: Packed

  const appEnv = (prefix: string) => ({ APP_REDIS_URL: redisUrl(), APP_KEY_PREFIX: prefix })
  const cliEnv = (prefix: string) => ({ RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix })

  beforeAll(async () => {
    for (const built of ["dist/index.js", "dist/index.d.ts"]) {
      if (!existsSync(join(ROOT, built))) {
        throw new Error(`${built} is missing: the package is packed from a built dist/ (npm run build, as npm test does first)`)
      }
    }
    mkdirSync(packDir)
    mkdirSync(app)
    mkdirSync(outDir)

    const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir], {
      cwd: ROOT,
      timeout: 120_000
    })
    if (pack.code !== 0) throw new Error(show(pack, "npm pack failed"))
    const json = JSON.parse(pack.stdout) as ReadonlyArray<Packed>
    const first = json[0]
    if (json.length !== 1 || first === undefined) throw new Error(show(pack, "npm pack --json did not describe one tarball"))
    packed = first
    console.log(
      `tarball ${packed.filename}: ${kB(packed.size)} packed, ${kB(packed.unpackedSize)} unpacked, ${packed.files.length} files`
    )

    writeJson(join(app, "package.json"), { name: "consumer", private: true, type: "module" })
    const install = await run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        join(packDir, packed.filename),
        "effect@3.22.4",
        "@types/node@20.19.43"
      ],
      { cwd: app, timeout: 200_000 }
    )
    if (install.code !== 0) throw new Error(show(install, "npm install into the consumer failed"))
  }, 240_000)

  afterAll(() => {
    rmSync(base, { recursive: true, force: true })
  })

  /** The ES module program of (a), run once for its two checks. */
  let esmRun: Promise<Result> | undefined
  const runEsm = () => {
    if (esmRun === undefined) {
      writeFileSync(join(app, "esm.mjs"), promiseProgram)
      esmRun = node(["esm.mjs"], { cwd: app, env: appEnv(uniquePrefix("pkg-esm")), timeout: 30_000 })
    }
    return esmRun
  }

  it("(a) runs a job from an ES module on plain node", async () => {
    const r = await runEsm()
    expect(r.code, show(r)).toBe(0)
    expect(lines(r.stdout), show(r, "the job's result, 5, is not on stdout")).toContain("5")
  }, 60_000)

  it("(a) prints nothing of its own on stdout (a library logs to stderr, or not at all)", async () => {
    const r = await runEsm()
    expect(r.code, show(r)).toBe(0)
    expect(r.stdout, show(r, "stdout holds more than the program printed")).toBe("5\n")
  }, 60_000)

  it("(b) runs a job from CommonJS with require()", async () => {
    writeFileSync(join(app, "cjs.cjs"), commonJsProgram)
    const r = await node(["cjs.cjs"], { cwd: app, env: appEnv(uniquePrefix("pkg-cjs")), timeout: 30_000 })
    expect(r.code, show(r)).toBe(0)
    expect(lines(r.stdout), show(r, "the job's result, 5, is not on stdout")).toContain("5")
  }, 60_000)

  describe("(c) the README's example type-checks in a TypeScript app (strict, skipLibCheck: false)", () => {
    const tsc = (project: string) => node([TSC, "-p", project], { cwd: app, timeout: 50_000 })

    beforeAll(() => {
      const taste = readmeTaste()
      writeFileSync(join(app, "taste.ts"), taste)
      writeJson(join(app, "tsconfig.nodenext.json"), {
        compilerOptions: { ...compilerOptions, module: "NodeNext", moduleResolution: "NodeNext" },
        files: ["taste.ts"]
      })
      writeJson(join(app, "tsconfig.bundler.json"), {
        compilerOptions: { ...compilerOptions, module: "ESNext", moduleResolution: "Bundler" },
        files: ["taste.ts"]
      })
      // NestJS's default: CommonJS output, no moduleResolution (so node10, which
      // ignores "exports" and needs "types"/"typesVersions"), in a CommonJS package.
      const cjs = join(app, "cjs")
      mkdirSync(cjs)
      writeJson(join(cjs, "package.json"), { type: "commonjs" })
      writeFileSync(join(cjs, "taste.ts"), taste)
      writeFileSync(
        join(cjs, "testing-types.ts"),
        `import type { StoreBackdoorShape } from "effect-rrq/testing"
import * as Effect from "effect/Effect"

export const noBackdoor: StoreBackdoorShape = {
  setRecord: () => Effect.void,
  addPending: () => Effect.void
}
`
      )
      writeJson(join(cjs, "tsconfig.json"), {
        compilerOptions: { ...compilerOptions, module: "commonjs", esModuleInterop: true },
        files: ["taste.ts"]
      })
      // effect-rrq/testing's declarations name @effect/vitest, its optional peer
      // (only a store driver's tests need it), which this app does not install; and
      // vitest's own declarations do not check under node10. So this one skips lib
      // checks: what it proves is that node10 finds the subpath's types (through
      // typesVersions) and that they are the real ones.
      writeJson(join(cjs, "tsconfig.testing.json"), {
        compilerOptions: { ...compilerOptions, module: "commonjs", esModuleInterop: true, skipLibCheck: true },
        files: ["testing-types.ts"]
      })
    })

    it.each([
      ["module NodeNext", "tsconfig.nodenext.json"],
      ["module ESNext, moduleResolution Bundler", "tsconfig.bundler.json"],
      ["module commonjs (node10 resolution, esModuleInterop), a CommonJS package", "cjs/tsconfig.json"],
      ["module commonjs: the effect-rrq/testing subpath's types", "cjs/tsconfig.testing.json"]
    ])("%s", async (_name, project) => {
      const r = await tsc(project)
      expect(r.code, show(r, `tsc -p ${project} failed`)).toBe(0)
    }, 60_000)
  })

  describe("(d) the rrq binary, without tsx installed", () => {
    it("prints the package's version", async () => {
      const version = (JSON.parse(readFileSync(join(app, "node_modules/effect-rrq/package.json"), "utf8")) as {
        version: string
      }).version
      expect(version).toBe(packed.version)
      const r = await run(bin, ["--version"], { cwd: app, timeout: 30_000 })
      expect(r.code, show(r)).toBe(0)
      expect(r.stdout.trim(), show(r)).toBe(version)
    }, 60_000)

    it("enqueues a job and runs it with a burst worker from a .mjs settings file", async () => {
      const env = cliEnv(uniquePrefix("pkg-cli"))
      writeFileSync(join(app, "x.mjs"), `export default { handlers: { add: async ({ a, b }) => a + b } }\n`)
      const enqueue = await run(bin, ["job", "enqueue", "add", "--params", `{"a":1,"b":2}`, "--json"], {
        cwd: app,
        env,
        timeout: 30_000
      })
      expect(enqueue.code, show(enqueue)).toBe(0)
      const job = JSON.parse(lines(enqueue.stdout).at(-1) ?? "null") as { id?: string; created?: boolean } | null
      expect(job?.id, show(enqueue, "enqueue --json printed no job id")).toEqual(expect.any(String))

      const worker = await run(bin, ["worker", "run", "--burst", "--settings", "x.mjs", "--json"], {
        cwd: app,
        env,
        timeout: 40_000
      })
      expect(worker.code, show(worker)).toBe(0)
      const last = lines(worker.stdout).at(-1)
      let counts: { completed?: number } | undefined
      try {
        counts = JSON.parse(last ?? "") as { completed?: number }
      } catch {
        throw new Error(show(worker, "the last line of stdout is not JSON"))
      }
      expect(counts.completed, show(worker)).toBe(1)
    }, 60_000)

    it("runs an Effect handler of defineConfig/Handler.make with the app's layer, and shows its result", async () => {
      const env = cliEnv(uniquePrefix("pkg-cli-effect"))
      writeFileSync(
        join(app, "effect-settings.mjs"),
        `import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { defineConfig, Handler } from "effect-rrq"

class Factor extends Context.Tag("app/Factor")() {}

export default defineConfig({
  handlers: { mul: Handler.make({ timeout: "5s" }, ({ a }) => Effect.map(Factor, (f) => a * f)) },
  layer: Layer.succeed(Factor, 7)
})
`
      )
      const enqueue = await run(bin, ["job", "enqueue", "mul", "--params", `{"a":6}`], { cwd: app, env, timeout: 30_000 })
      expect(enqueue.code, show(enqueue)).toBe(0)
      const id = lines(enqueue.stdout).at(-1) ?? ""
      const worker = await run(bin, ["worker", "run", "--burst", "--settings", "effect-settings.mjs", "--json"], {
        cwd: app,
        env,
        timeout: 40_000
      })
      expect(worker.code, show(worker)).toBe(0)
      const result = await run(bin, ["job", "result", id, "--json"], { cwd: app, env, timeout: 30_000 })
      expect(result.code, show(result, show(worker, "the worker:"))).toBe(0)
      expect(JSON.parse(lines(result.stdout).at(-1) ?? "null"), show(result)).toMatchObject({ status: "COMPLETED", result: 42 })
    }, 60_000)

    it("refuses a .ts settings file with one line on stderr that names tsx, exit 2", async () => {
      expect(existsSync(join(app, "node_modules/tsx")), "tsx must not be installed in the consumer").toBe(false)
      writeFileSync(join(app, "x.ts"), `export default { handlers: { add: async ({ a, b }: { a: number; b: number }) => a + b } }\n`)
      const r = await run(bin, ["worker", "run", "--burst", "--settings", "x.ts", "--json"], {
        cwd: app,
        env: cliEnv(uniquePrefix("pkg-cli-ts")),
        timeout: 30_000
      })
      expect(r.code, show(r)).toBe(2)
      expect(lines(r.stderr), show(r, "stderr is not exactly one line")).toHaveLength(1)
      expect(r.stderr, show(r)).toMatch(/tsx/)
    }, 60_000)
  })

  it("(e) the tarball holds the build, the Lua sources and the docs, and no sources, tests or tools", () => {
    const paths = packed.files.map((f) => f.path)
    const listing = `files in the tarball:\n${paths.join("\n")}`
    const forbidden = paths.filter((p) =>
      /^(test|bench|examples|src|scripts)\//.test(p) || (/\.[cm]?ts$/.test(p) && !/\.d\.[cm]?ts$/.test(p))
    )
    expect(forbidden, listing).toEqual([])
    for (const required of ["dist/index.js", "dist/index.d.ts", "dist/testing.js", "bin/rrq.js", "LICENSE", "README.md", "package.json"]) {
      expect(paths, listing).toContain(required)
    }
    expect(paths.filter((p) => /^lua\/.+\.lua$/.test(p)), listing).not.toEqual([])
  })

  it("(f) uses the app's one copy of Effect (a peer, never a nested copy)", async () => {
    const r = await run("npm", ["ls", "effect", "--all", "--json"], { cwd: app, timeout: 50_000 })
    let tree: unknown
    try {
      tree = JSON.parse(r.stdout)
    } catch {
      throw new Error(show(r, "npm ls --json printed no JSON"))
    }
    const found: Array<string> = []
    const walk = (node: unknown, path: string) => {
      const deps = (node as { dependencies?: Record<string, { version?: string }> } | null)?.dependencies ?? {}
      for (const [name, child] of Object.entries(deps)) {
        const here = `${path} > ${name}`
        if (name === "effect") found.push(`${here}@${child.version ?? "?"}`)
        walk(child, here)
      }
    }
    walk(tree, "consumer")
    const report = show(r, `effect in the tree:\n${found.join("\n")}`)
    expect(found.length, report).toBeGreaterThan(0)
    expect(found.filter((f) => !f.endsWith("@3.22.4")), report).toEqual([])
    const copies = await run("find", ["node_modules", "-path", "*/node_modules/*/node_modules/effect/package.json"], {
      cwd: app,
      timeout: 30_000
    })
    expect(lines(copies.stdout), show(copies, "nested copies of effect")).toEqual([])
  }, 60_000)

  it("(g) works bundled by esbuild, with no Lua files next to the bundle", async () => {
    writeFileSync(join(app, "bundle-entry.mjs"), promiseProgram)
    const outfile = join(outDir, "app.mjs")
    const result = await build({
      absWorkingDir: app,
      entryPoints: [join(app, "bundle-entry.mjs")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      logLevel: "silent",
      banner: { js: `import { createRequire } from "node:module"; const require = createRequire(import.meta.url);` }
    })
    expect(result.errors, JSON.stringify(result, null, 2)).toEqual([])
    // the bundle cannot reach the installed package (nor its lua/) from where it is
    expect(() => createRequire(outfile).resolve("effect-rrq"), "effect-rrq is resolvable from the bundle's folder").toThrow()
    expect(existsSync(join(outDir, "lua")) || existsSync(join(base, "lua"))).toBe(false)

    const r = await node([outfile], { cwd: outDir, env: appEnv(uniquePrefix("pkg-bundle")), timeout: 30_000 })
    const warnings = result.warnings.map((w) => w.text).join("\n")
    expect(r.code, show(r, warnings ? `esbuild warnings:\n${warnings}` : "")).toBe(0)
    expect(lines(r.stdout), show(r, "the job's result, 5, is not on stdout")).toContain("5")
  }, 60_000)

  it("(h) keeps internal modules unreachable", async () => {
    const imported = await node(["--input-type=module", "-e", `await import("effect-rrq/internal/scripts.js")`], {
      cwd: app,
      timeout: 30_000
    })
    expect(imported.code, show(imported)).not.toBe(0)
    expect(imported.stderr, show(imported)).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
    const required = await node(["--input-type=commonjs", "-e", `require("effect-rrq/internal/scripts.js")`], {
      cwd: app,
      timeout: 30_000
    })
    expect(required.code, show(required)).not.toBe(0)
    expect(required.stderr, show(required)).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED")
  }, 60_000)
})
