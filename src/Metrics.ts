/**
 * Metrics for Prometheus (docs/monitoring.md has every name and its meaning, alert rules and
 * a dashboard). Workers and clients record rrq's metrics in Effect's metric registry; a
 * scrape renders them with the app's own Effect metrics, this process's figures and the
 * queues' depths, read from the store at scrape time.
 *
 * - `layerPrometheus({ port })` serves `/metrics`, `/healthz` and `/readyz` while the layer lives;
 * - `handler` is the same as a node:http handler, to mount in an app's server (Express too);
 * - `text` is one scrape as Prometheus text.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { MetricsServerError } from "./Errors.js"
import * as Endpoint from "./internal/metrics/endpoint.js"
import { JobStore } from "./JobStore.js"

export {
  claimBatchSize,
  jobDuration,
  jobsCancelled,
  jobsCompleted,
  jobsEnqueued,
  jobsFailed,
  jobsRetried,
  jobsStarted,
  jobWait,
  leasesLost,
  leasesRecovered,
  redisErrors
} from "./internal/metrics/instruments.js"

export type { NodeHandler, ScrapeOptions } from "./internal/metrics/endpoint.js"
import type { ScrapeOptions } from "./internal/metrics/endpoint.js"

export interface ServeOptions extends ScrapeOptions {
  /** 0 picks a free port. */
  readonly port: number
  /** Default `0.0.0.0`. */
  readonly host?: string
}

/** One scrape as Prometheus text (version 0.0.4). */
export const text = (options: ScrapeOptions = {}): Effect.Effect<string, never, JobStore> =>
  Effect.flatMap(JobStore, (store) => Endpoint.text(store, options))

/** A node:http handler for `/metrics`, `/healthz` and `/readyz`. */
export const handler = (options: ScrapeOptions = {}): Effect.Effect<Endpoint.NodeHandler, never, JobStore> =>
  Effect.flatMap(JobStore, (store) => Endpoint.handler(Endpoint.local(store, options)))

/** Serves the endpoint until the scope closes; succeeds with the port it listens on. */
export const serve = (options: ServeOptions): Effect.Effect<number, MetricsServerError, JobStore | Scope.Scope> =>
  Effect.flatMap(handler(options), (handle) => Endpoint.serve(handle, options.port, options.host))

/** The endpoint as a layer: listening while the layer lives. */
export const layerPrometheus = (options: ServeOptions): Layer.Layer<never, MetricsServerError, JobStore> =>
  Layer.scopedDiscard(serve(options))
