/** The worker's handler map: every entry a `Handler`, by function name. */
import { InvalidOptions } from "../Errors.js"
import { type Handler, type HandlerFn, type Handlers, isHandler, make } from "../Handler.js"

/**
 * Normalises a handler map: plain functions become handlers with no Schemas.
 * Throws `InvalidOptions` naming an entry that is neither.
 */
export const registry = <R>(handlers: Handlers<R>): ReadonlyMap<string, Handler<R>> =>
  new Map(
    Object.entries(handlers).map(([name, h]) => {
      if (isHandler(h)) return [name, h]
      if (typeof h !== "function") {
        throw new InvalidOptions({ message: `handler '${name}' is neither a function nor Handler.make(...)` })
      }
      return [name, make({}, h as HandlerFn<unknown, unknown>)]
    })
  )
