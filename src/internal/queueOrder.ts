/** The order a worker tries its queues in, one round at a time. */
import type { QueueWeight } from "./queueSpec.js"

/**
 * Returns a function giving this round's order: the given order (strict, or one queue),
 * a fair rotation (all weights 1), or a weighted random permutation.
 */
export const queueOrder = (queues: ReadonlyArray<QueueWeight>, strict: boolean): () => ReadonlyArray<string> => {
  const names = queues.map((q) => q.name)
  if (strict || names.length === 1) return () => names
  if (queues.every((q) => q.weight === 1)) {
    let start = 0
    return () => {
      start = (start + 1) % names.length
      return [...names.slice(start), ...names.slice(0, start)]
    }
  }
  // Weighted random permutation (Efraimidis–Spirakis): queue q comes first with probability w_q / Σw.
  return () =>
    queues
      .map((q) => ({ name: q.name, key: -Math.log(Math.random()) / q.weight }))
      .sort((a, b) => a.key - b.key)
      .map((q) => q.name)
}
