/**
 * GET /metrics: Prometheus text exposition through prom-client, one
 * registry per server (so several servers in one process, as in the tests,
 * keep their counts apart). Route labels are the route patterns, never the
 * raw URL (a scanner's random paths count as "unmatched", not as new
 * series); prompt labels are the configured prompt names only.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GuardResult } from '../guard/guard.js';

const PREFIX = 'lmsanitator_';

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly batchRows: Histogram;
  readonly batchSeconds: Histogram;
  readonly queueRows: Gauge;
  readonly inputs: Counter<'prompt' | 'action'>;
  readonly flagged: Counter<'prompt'>;
  readonly purified: Counter<'prompt'>;
  readonly rejected: Counter<'prompt'>;
  readonly auditLines: Counter;
  readonly ready: Gauge;

  constructor(o: { maxBatch: number; queueRows: () => number; ready: () => boolean }) {
    const registers = [this.registry];
    this.requests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests answered, by route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`, help: 'HTTP request latency, by route pattern', labelNames: ['method', 'route'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    const rowBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].filter((b) => b < o.maxBatch);
    this.batchRows = new Histogram({ name: `${PREFIX}batch_rows`, help: 'inputs per inference batch (dynamic batching; at most --max-batch)', buckets: [...rowBuckets, o.maxBatch], registers });
    this.batchSeconds = new Histogram({
      name: `${PREFIX}batch_duration_seconds`, help: 'time the worker spent on a batch (monitor, purge, classification, audit fsync)', registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.queueRows = new Gauge({ name: `${PREFIX}queue_rows`, help: 'inputs waiting for a batch', registers, collect() { this.set(o.queueRows()); } });
    this.inputs = new Counter({ name: `${PREFIX}inputs_total`, help: 'inputs guarded, by prompt and action (passed, purified, rejected, unpurified)', labelNames: ['prompt', 'action'], registers });
    this.flagged = new Counter({ name: `${PREFIX}flagged_inputs_total`, help: 'inputs the PV monitor flagged, by prompt', labelNames: ['prompt'], registers });
    this.purified = new Counter({ name: `${PREFIX}purified_inputs_total`, help: 'flagged inputs purified by trigger removal, by prompt', labelNames: ['prompt'], registers });
    this.rejected = new Counter({ name: `${PREFIX}rejected_inputs_total`, help: 'flagged inputs still flagged after every window and rejected, by prompt', labelNames: ['prompt'], registers });
    this.auditLines = new Counter({ name: `${PREFIX}audit_lines_total`, help: 'lines appended to the audit log', registers });
    this.ready = new Gauge({ name: `${PREFIX}model_ready`, help: '1 when the model is loaded and serving', registers, collect() { this.set(o.ready() ? 1 : 0); } });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  countResults(prompt: string, results: readonly GuardResult[]): void {
    for (const r of results) {
      this.inputs.inc({ prompt, action: r.action });
      if (r.triggered) this.flagged.inc({ prompt });
      if (r.action === 'purified') this.purified.inc({ prompt });
      if (r.action === 'rejected') this.rejected.inc({ prompt });
    }
  }
}

/** One metric's value from Prometheus text: the sum over the series whose labels include `labels` (for the tests and bench:serve). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
