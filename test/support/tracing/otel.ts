/** An OpenTelemetry SDK for a test process: spans kept in memory, printed as JSON lines at the end. */
import { NodeSdk } from "@effect/opentelemetry"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"

export const exporter = new InMemorySpanExporter()

export const layer = (serviceName: string) =>
  NodeSdk.layer(() => ({ resource: { serviceName }, spanProcessor: new SimpleSpanProcessor(exporter) }))

/** Prints every finished span: name, kind, ids, parent, attributes, links. */
export const printSpans = () => {
  for (const s of exporter.getFinishedSpans()) {
    const ctx = s.spanContext()
    process.stdout.write(`${JSON.stringify({
      name: s.name,
      kind: s.kind,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: (s as unknown as { parentSpanContext?: { spanId: string } }).parentSpanContext?.spanId ??
        (s as unknown as { parentSpanId?: string }).parentSpanId,
      attributes: s.attributes,
      links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId }))
    })}\n`)
  }
}
