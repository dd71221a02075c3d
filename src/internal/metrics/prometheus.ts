/**
 * The Prometheus text format (version 0.0.4): metric families from Effect's metric registry
 * and from rrq's scrape-time gauges, rendered as text. Families are plain data, so the
 * supervisor can merge those of its workers before rendering (`merge`).
 */
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

export type Labels = ReadonlyArray<readonly [string, string]>

export interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count`, or nothing. */
  readonly suffix: string
  readonly labels: Labels
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly samples: ReadonlyArray<Sample>
}

/** A metric name Prometheus accepts: other characters become `_` (an app's `http.requests`). */
export const metricName = (name: string): string => {
  const clean = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[0-9]/.test(clean) ? `_${clean}` : clean
}
const labelName = (name: string): string => {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[0-9]/.test(clean) || clean.startsWith("__") ? `_${clean}` : clean
}

/** Every metric of Effect's registry in this process (rrq's and the app's), as families. */
export const registryFamilies = (): Array<Family> => {
  const byName = new Map<string, { help: string; type: Family["type"]; samples: Array<Sample> }>()
  for (const pair of Metric.unsafeSnapshot()) {
    const key = pair.metricKey
    const state = pair.metricState
    const labels: Labels = key.tags.map((t) => [labelName(t.key), t.value] as const)
    // a counter that may go down (Effect's `effect_fiber_active`) is a gauge to Prometheus
    const monotonic = MetricState.isFrequencyState(state) ||
      (MetricState.isCounterState(state) && (key.keyType as MetricKeyType.MetricKeyType.Counter<number>).incremental)
    const type: Family["type"] = monotonic
      ? "counter"
      : MetricState.isCounterState(state) || MetricState.isGaugeState(state)
      ? "gauge"
      : MetricState.isHistogramState(state)
      ? "histogram"
      : "summary"
    // counters end in _total (as the OpenTelemetry exporter does with Effect's `effect_fiber_started`)
    const base = metricName(key.name)
    const name = type === "counter" && !base.endsWith("_total") ? `${base}_total` : base
    let family = byName.get(name)
    if (family === undefined) {
      byName.set(name, family = { help: Option.getOrElse(key.description, () => name), type, samples: [] })
    }
    if (family.type !== type) continue // one name, two kinds: the first wins (Prometheus refuses both)
    const out = family.samples
    if (MetricState.isCounterState(state)) {
      out.push({ suffix: "", labels, value: Number(state.count) })
    } else if (MetricState.isGaugeState(state)) {
      out.push({ suffix: "", labels, value: Number(state.value) })
    } else if (MetricState.isFrequencyState(state)) {
      for (const [k, n] of state.occurrences) out.push({ suffix: "", labels: [...labels, ["key", k]], value: n })
    } else if (MetricState.isHistogramState(state)) {
      for (const [le, n] of state.buckets) out.push({ suffix: "_bucket", labels: [...labels, ["le", le === Infinity ? "+Inf" : String(le)]], value: n })
      if (!state.buckets.some(([le]) => le === Infinity)) out.push({ suffix: "_bucket", labels: [...labels, ["le", "+Inf"]], value: state.count })
      out.push({ suffix: "_sum", labels, value: state.sum }, { suffix: "_count", labels, value: state.count })
    } else if (MetricState.isSummaryState(state)) {
      for (const [q, v] of state.quantiles) {
        if (Option.isSome(v)) out.push({ suffix: "", labels: [...labels, ["quantile", String(q)]], value: v.value })
      }
      out.push({ suffix: "_sum", labels, value: state.sum }, { suffix: "_count", labels, value: state.count })
    }
  }
  return [...byName].map(([name, f]) => ({ name, ...f }))
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const formatValue = (v: number) =>
  Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v)

/** The families as Prometheus text, each once (families without samples are left out). */
export const render = (families: ReadonlyArray<Family>): string => {
  const lines: Array<string> = []
  for (const f of families) {
    if (f.samples.length === 0) continue
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`)
    for (const s of f.samples) {
      const labels = s.labels.length === 0 ? "" : `{${s.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
      lines.push(`${f.name}${s.suffix}${labels} ${formatValue(s.value)}`)
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

const sampleKey = (s: Sample) => `${s.suffix}\u0000${s.labels.map(([k, v]) => `${k}=${v}`).join("\u0000")}`

/**
 * Merges the families of several processes: samples with the same name and labels add up
 * (counters, histograms: the deployment's totals), except gauges, which are kept apart by
 * the caller (labelled by process) before they get here.
 */
export const merge = (sets: ReadonlyArray<ReadonlyArray<Family>>): Array<Family> => {
  const byName = new Map<string, { family: Family; samples: Map<string, Sample> }>()
  for (const families of sets) {
    for (const f of families) {
      let entry = byName.get(f.name)
      if (entry === undefined) byName.set(f.name, entry = { family: f, samples: new Map() })
      if (entry.family.type !== f.type) continue
      for (const s of f.samples) {
        const key = sampleKey(s)
        const seen = entry.samples.get(key)
        entry.samples.set(key, seen === undefined ? s : { ...s, value: seen.value + s.value })
      }
    }
  }
  return [...byName.values()].map(({ family, samples }) => ({ ...family, samples: [...samples.values()] }))
}

/** A gauge family. */
export const gauge = (name: string, help: string, samples: ReadonlyArray<{ labels: Labels; value: number }>): Family => ({
  name,
  help,
  type: "gauge",
  samples: samples.map((s) => ({ suffix: "", ...s }))
})

/** A counter family. */
export const counter = (name: string, help: string, samples: ReadonlyArray<{ labels: Labels; value: number }>): Family => ({
  name,
  help,
  type: "counter",
  samples: samples.map((s) => ({ suffix: "", ...s }))
})
