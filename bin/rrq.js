#!/usr/bin/env node
// The rrq binary: registers tsx (for rrq's own TypeScript sources and .ts settings files), then runs the CLI.
import "tsx/esm"

await import("../src/cli/bin.ts")
