/**
 * Traces across two processes, through @effect/opentelemetry with an in-memory exporter: a
 * producer's `send <queue>` span and the worker's `process <queue>` spans follow
 * OpenTelemetry's messaging conventions, linked (or, with continueTrace, one trace), the
 * handler's own span nested under its attempt's. Without a tracer, no trace context is stored.
 */
import { Effect, Option } from "effect"
import { execFile } from "node:child_process"
import { resolve } from "node:path"
import { describe, expect, it } from "vitest"
import * as Client from "../src/Client.js"
import { JobStore } from "../src/JobStore.js"
import { clientLayer, redisUrl, uniquePrefix } from "./support/index.js"

interface SpanJson {
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId?: string
  attributes: Record<string, unknown>
  links: Array<{ traceId: string; spanId: string }>
}

const SPAN_KIND = { INTERNAL: 0, PRODUCER: 3, CONSUMER: 4 }

const runScript = (script: string, prefix: string, extra: Record<string, string> = {}) =>
  new Promise<{ spans: Array<SpanJson>; ids: Array<string> }>((done, fail) => {
    execFile(process.execPath, ["--import", "tsx", resolve("test/support/tracing", script)], {
      env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix, RRQ_POLL_DELAY_MS: "20", ...extra },
      timeout: 30_000
    }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`${script}: ${error.message}\n${stderr}`))
      const lines = stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
      done({ spans: lines.filter((l) => "spanId" in l), ids: lines.find((l) => "ids" in l)?.ids ?? [] })
    })
  })

describe("traces", () => {
  it("enqueue → PRODUCER span, each attempt → CONSUMER span linked to it, the handler's span under the attempt's", async () => {
    const prefix = uniquePrefix("trace")
    const producer = await runScript("producer.ts", prefix)
    const sends = producer.spans.filter((s) => s.name === "send default")
    expect(sends).toHaveLength(3)
    const [single, batch] = sends
    expect(single!.kind).toBe(SPAN_KIND.PRODUCER)
    expect(single!.attributes).toMatchObject({
      "messaging.system": "rrq",
      "messaging.destination.name": "default",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.id": producer.ids[0]
    })
    expect(batch!.attributes).toMatchObject({ "messaging.batch.message_count": 3 })
    expect(batch!.attributes["messaging.message.id"]).toBeUndefined()

    const worker = await runScript("worker.ts", prefix)
    const processes = worker.spans.filter((s) => s.name === "process default" && s.attributes["rrq.function"] === "greet")
    expect(processes).toHaveLength(4)
    for (const span of processes) {
      expect(span.kind).toBe(SPAN_KIND.CONSUMER)
      expect(span.attributes).toMatchObject({
        "messaging.system": "rrq",
        "messaging.destination.name": "default",
        "messaging.operation.type": "process",
        "rrq.function": "greet",
        "rrq.job.attempt": 1,
        "rrq.outcome": "complete"
      })
      expect(span.parentSpanId).toBeUndefined()
      // linked to the send span of the job's enqueue, in the producer's trace
      const send = producer.ids.indexOf(span.attributes["messaging.message.id"] as string) === 0 ? single! : batch!
      expect(span.links).toEqual([{ traceId: send.traceId, spanId: send.spanId }])
      const inner = worker.spans.find((s) => s.name === "greet.inner" && s.traceId === span.traceId)!
      expect(inner.parentSpanId).toBe(span.spanId)
    }
    // a failed attempt says how it ended and what failed it
    const failed = worker.spans.find((s) => s.attributes["rrq.function"] === "boom")!
    expect(failed.attributes).toMatchObject({ "rrq.outcome": "retry", "error.type": "TypeError", "messaging.message.id": producer.ids[4] })
  }, 60_000)

  it("continueTrace: the attempt's span is a child of the send span, in one trace", async () => {
    const prefix = uniquePrefix("trace")
    const producer = await runScript("producer.ts", prefix)
    const worker = await runScript("worker.ts", prefix, { RRQ_TEST_CONTINUE_TRACE: "1" })
    const single = producer.spans.find((s) => s.name === "send default" && s.attributes["messaging.message.id"] === producer.ids[0])!
    const attempt = worker.spans.find((s) => s.name === "process default" && s.attributes["messaging.message.id"] === producer.ids[0])!
    expect(attempt.traceId).toBe(single.traceId)
    expect(attempt.parentSpanId).toBe(single.spanId)
    expect(attempt.links).toEqual([])
  }, 60_000)

  it("without a tracer, an enqueue stores no trace context", async () => {
    const queue = uniquePrefix("q")
    const traceContext = await Effect.runPromise(Effect.gen(function*() {
      const ref = yield* (yield* Client.RrqClient).enqueue("greet", {}, { queue })
      const job = yield* (yield* JobStore).getJob(ref)
      return Option.getOrThrow(job).traceContext
    }).pipe(Effect.provide(clientLayer())))
    expect(traceContext).toBeUndefined()
  })
})
