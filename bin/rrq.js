#!/usr/bin/env node
// The rrq binary: the compiled CLI, bundled (`npm run build` makes dist/).
const [command, ...rest] = process.argv.slice(2)
if (command === "--version" && rest.length === 0) {
  // the one answer that needs no code at all
  const { readFileSync } = await import("node:fs")
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  process.stdout.write(`${version}\n`)
} else {
  // `worker run|watch` continue in workerMain (outside the bundle): start loading it
  // now, while the bundle (the worker commands' own) parses the command line
  if (command === "worker") {
    import("../dist/cli/workerMain.js").catch(() => {})
    await import("../dist/cli/bundle-worker.js")
  } else {
    await import("../dist/cli/bundle.js")
  }
}
