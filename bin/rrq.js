#!/usr/bin/env node
// The rrq binary: the compiled CLI, bundled (`npm run build` makes dist/).
if (process.argv.length === 3 && process.argv[2] === "--version") {
  // the one answer that needs no code at all
  const { readFileSync } = await import("node:fs")
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  process.stdout.write(`${version}\n`)
} else {
  await import("../dist/cli/bundle.js")
}
