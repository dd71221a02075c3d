/** Errors as text, for job records (with the stack) and for log lines (the message only). */

/** An error as a job's `error` field: the stack when there is one, at most 4,000 characters. */
export const describeError = (e: unknown): string => {
  const text = e instanceof Error
    ? (e.stack ?? `${e.name}: ${e.message}`)
    : typeof e === "object" && e !== null && "message" in e
    ? String((e as { message: unknown }).message)
    : typeof e === "string"
    ? e
    : JSON.stringify(e) ?? String(e)
  return text.length > 4_000 ? `${text.slice(0, 4_000)}…` : text
}

/** The message of an error, without its stack: for a log line or the CLI's one line on stderr. */
export const messageOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e)

/** Milliseconds as seconds for messages: `1.5s`. */
export const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))}s`
