/**
 * The whole Redis key layout, in one place (README, "Redis layout").
 *
 * Every key of a queue carries the queue's hash tag `{queue}`, so all keys a
 * Lua script touches live in one slot and a Redis Cluster shards by queue.
 * Scripts receive `queuePrefix` (`rrq:{q}:`) and derive per-job keys from it.
 * One exception, on a single Redis only: claim and recover also keep the lease index
 * (`rrq:leases`); on a Redis Cluster they would not be given it (see `leaseIndex` in
 * internal/redis/transitions.ts).
 */

export interface QueueKeys {
  /** `rrq:{q}:` — the prefix every key of the queue starts with. */
  readonly prefix: string
  /** ZSET job id → run-at (epoch ms). */
  readonly pending: string
  /** ZSET job id → lease deadline (epoch ms). */
  readonly active: string
  /** ZSET job id → failed-at (epoch ms). */
  readonly dlq: string
  /** HASH completedTotal, failedTotal. */
  readonly stats: string
  /** STRING `1` while the queue is paused (its jobs are not claimed). */
  readonly paused: string
  /**
   * Pub/sub channel: a message whenever work may be ready (enqueue, retry, recovery, requeue,
   * unique-key hand-over): `<run-at> <now>` (Redis's clock: due in run-at − now), or a bare
   * `<now>` for work due at once.
   */
  readonly wake: string
  /** Pub/sub channel: space-separated ids of jobs that reached a terminal state. */
  readonly done: string
  /** Pub/sub channel: ids of running jobs whose cancellation was requested. */
  readonly cancel: string
}

export interface Keys {
  /** SET of known queue names. */
  readonly queues: string
  /**
   * ZSET queue name → a lower bound of the earliest lease deadline in its active set: the lease
   * index, so that a recovery sweep finds the queues with expired leases in one call. Written by
   * the claim and recover scripts on a single Redis only (it is outside the queues' slots).
   */
  readonly leases: string
  readonly queue: (queue: string) => QueueKeys
  /** HASH of one job. */
  readonly job: (queue: string, id: string) => string
  /** STRING: the id of the job holding a unique key (with a safety TTL). */
  readonly unique: (queue: string, key: string) => string
  /** ZSET: jobs waiting for a unique key, by enqueue order. */
  readonly uniqueWaiting: (queue: string, key: string) => string
  /** STRING: the id of the job created for an idempotency key. */
  readonly idempotency: (queue: string, key: string) => string
  /** STRING (JSON, TTL): a worker's heartbeat. */
  readonly worker: (workerId: string) => string
  /** Pattern matching every worker heartbeat. */
  readonly workerPattern: string
}

/** Per-job key suffixes, relative to the queue prefix; the Lua scripts use the same ones. */
export const suffix = {
  job: "job:",
  unique: "unique:",
  uniqueWaiting: "unique-waiting:",
  idempotency: "idem:",
  corrupt: "corrupt:"
} as const

/** Queue names end up inside a hash tag, so braces are not allowed; a comma separates a weight (`name,3`). */
export const isValidQueueName = (queue: string): boolean =>
  queue.length > 0 && queue.length <= 200 && !/[{},\s]/.test(queue)

/** What `isValidQueueName` asks, for error messages. */
export const QUEUE_NAME_RULE = "1 to 200 characters, no braces, commas or whitespace"

export const make = (base = "rrq"): Keys => {
  const queue = (q: string): QueueKeys => {
    const prefix = `${base}:{${q}}:`
    return {
      prefix,
      pending: `${prefix}pending`,
      active: `${prefix}active`,
      dlq: `${prefix}dlq`,
      stats: `${prefix}stats`,
      paused: `${prefix}paused`,
      wake: `${prefix}wake`,
      done: `${prefix}done`,
      cancel: `${prefix}cancel`
    }
  }
  return {
    queues: `${base}:queues`,
    leases: `${base}:leases`,
    queue,
    job: (q, id) => `${base}:{${q}}:${suffix.job}${id}`,
    unique: (q, key) => `${base}:{${q}}:${suffix.unique}${key}`,
    uniqueWaiting: (q, key) => `${base}:{${q}}:${suffix.uniqueWaiting}${key}`,
    idempotency: (q, key) => `${base}:{${q}}:${suffix.idempotency}${key}`,
    worker: (id) => `${base}:worker:${id}`,
    workerPattern: `${base}:worker:*`
  }
}
