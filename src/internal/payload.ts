import { Buffer } from "node:buffer"

/**
 * The UTF-8 size of `text` when it is over `max` bytes, else undefined. Counted only
 * when it could be over (a UTF-16 code unit is at most 3 bytes): most params need no count.
 */
export const oversize = (text: string, max: number): number | undefined => {
  if (text.length * 3 <= max) return undefined
  const bytes = Buffer.byteLength(text, "utf8")
  return bytes > max ? bytes : undefined
}
