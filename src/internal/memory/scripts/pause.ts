/** The twin of `lua/pause.lua`: pauses or resumes a queue's claims; resuming wakes the workers. */
import type { Ctx } from "./common.js"

export const pause = (c: Ctx, paused: boolean): boolean => {
  if (c.q.paused === paused) return false
  c.q.paused = paused
  if (!paused) c.env.wake(c.q)
  return true
}
