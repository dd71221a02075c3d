/**
 * The Lua sources of `lua/` (the source of truth, tested as they are). From the
 * sources they are read from disk; `npm run build` replaces the compiled module
 * with one that embeds them, so a bundled app (esbuild, webpack) needs no files.
 */
import { readFileSync } from "node:fs"

const dir = new URL("../../lua/", import.meta.url)

/** The text of a file under `lua/`, e.g. `claim.lua` or `include/common.lua`. */
export const read = (file: string): string => readFileSync(new URL(file, dir), "utf8")
