/** The failures that decide the `rrq` exit code (besides success, 0). */
import * as Data from "effect/Data"

/** Bad usage: one clear line on stderr, exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A check that failed (no live worker, job not found, job failed...): exit code 1. */
export class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly message: string }> {}
