/**
 * The producer Lambda's logic: generate a batch of realistic events and put them on the input
 * stream. Throws (so the invocation shows as failed and alarms fire) when any event is still
 * unsent after the sender's retries.
 */
import type { Context } from 'aws-lambda';
import { type KinesisClient, type SendOptions, sendRecords } from '../aws/kinesis.js';
import { currencyExponent } from '../domain/currency.js';
import type { PaymentEvent } from '../domain/event.js';
import { serializeEvent } from '../domain/event.js';
import { generateEvents } from '../domain/generator.js';
import { fromMinor } from '../domain/money.js';
import type { Logger } from './lib/logger.js';
import type { Metrics } from './lib/metrics.js';

export interface ProducerDeps {
  kinesis: KinesisClient;
  streamName: string;
  defaultCount: number;
  logger: Logger;
  /** Seeds runs that don't pass one (default Math.random). */
  random?: () => number;
  now?: () => number;
  sendOptions?: SendOptions;
  /** EMF metrics, one line per run; none when absent. */
  metrics?: Metrics;
}

export interface ProducerEvent {
  count?: number;
  seed?: number;
}

export interface CurrencyTotal {
  count: number;
  /** Rendered with the currency's decimals, summed exactly in minor units. */
  total_amount: number;
}

export interface ProducerResult {
  sent: number;
  failed: number;
  retried: number;
  /** The seed used: replaying it with the same nowMs reproduces the batch. */
  seed: number;
  totals_by_currency: Record<string, CurrencyTotal>;
}

export type ProducerHandler = (
  event?: ProducerEvent | null,
  context?: Partial<Context>,
) => Promise<ProducerResult>;

export const MAX_EVENTS_PER_INVOCATION = 100_000;

export function createProducerHandler(deps: ProducerDeps): ProducerHandler {
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  return async (event, context) => {
    const log = deps.logger.withContext(context);
    const started = now();
    // Scheduled (EventBridge) invocations pass their own event shape: only our fields count.
    const count = event?.count ?? deps.defaultCount;
    if (!Number.isInteger(count) || count < 1 || count > MAX_EVENTS_PER_INVOCATION) {
      throw new RangeError(
        `count must be a whole number from 1 to ${MAX_EVENTS_PER_INVOCATION}, got ${count}`,
      );
    }
    const seed = event?.seed ?? Math.floor(random() * 2 ** 32);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a whole number, got ${seed}`);
    const nowMs = now();
    const events: PaymentEvent[] = [];
    for (const r of generateEvents({ seed, nowMs })) {
      if (r.kind === 'event') events.push(r.event);
      if (events.length >= count) break;
    }
    const summary = await sendRecords(
      deps.kinesis,
      deps.streamName,
      events.map((e) => ({ data: Buffer.from(serializeEvent(e)), partitionKey: e.transaction_id, event: e })),
      deps.sendOptions,
    );
    // Totals of what actually went out (failed entries excluded), exact in minor units.
    const unsent = new Set(summary.failedRecords.map((f) => f.record.event));
    const minor = new Map<string, { count: number; total: number }>();
    for (const e of events) {
      if (unsent.has(e)) continue;
      const t = minor.get(e.currency) ?? { count: 0, total: 0 };
      t.count++;
      t.total += e.amountMinor;
      minor.set(e.currency, t);
    }
    const totals_by_currency: Record<string, CurrencyTotal> = {};
    for (const c of [...minor.keys()].sort()) {
      const t = minor.get(c) as { count: number; total: number };
      totals_by_currency[c] = {
        count: t.count,
        total_amount: fromMinor(t.total, currencyExponent(c) as number),
      };
    }
    const result: ProducerResult = {
      sent: summary.sent,
      failed: summary.failed,
      retried: summary.retried,
      seed,
      totals_by_currency,
    };
    const fields = {
      stream: deps.streamName,
      requested: count,
      ...result,
      requests: summary.requests,
      throttled: summary.throttled,
      duration_ms: now() - started,
    };
    deps.metrics?.producerRun({
      ProducerRuns: 1,
      EventsProduced: summary.sent,
      EventsUnsent: summary.failed,
    });
    if (summary.failed > 0) {
      const f = summary.failedRecords[0];
      log.error('events left unsent', { ...fields, error: `${f?.errorCode}: ${f?.errorMessage}` });
      throw new Error(
        `${summary.failed} of ${count} events unsent to ${deps.streamName} after retries (sent ${summary.sent}; last error ${f?.errorCode}: ${f?.errorMessage})`,
      );
    }
    log.info('produced events', fields);
    return result;
  };
}
