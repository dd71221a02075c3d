#!/usr/bin/env node
// The rrq binary: the compiled CLI (`npm run build` makes dist/).
import "../dist/cli/bin.js"
