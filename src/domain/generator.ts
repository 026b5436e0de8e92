/**
 * Realistic, reproducible payment traffic: the same seed and nowMs give the same records, so a
 * `paypipe send --seed` run can be replayed and its expected totals recomputed. (With a `now`
 * clock instead, everything but the event times is still the same for the same seed.)
 */
import { currencyExponent } from './currency.js';
import type { PaymentEvent, RejectReason } from './event.js';
import { serializeEvent } from './event.js';
import { fromMinor } from './money.js';

/** mulberry32: a tiny, fast 32-bit seeded PRNG (plenty for test traffic, not for secrets). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_MERCHANTS: readonly string[] = [
  'Amazon',
  'Walmart',
  'Target',
  'Starbucks',
  'Uber',
  'Netflix',
  'Apple',
  'Costco',
  'Spotify',
  'Airbnb',
  'Shell',
  "McDonald's",
];

/** Mostly USD (weights, need not sum to 1). */
export const DEFAULT_CURRENCY_MIX: Readonly<Record<string, number>> = {
  USD: 0.6,
  EUR: 0.15,
  GBP: 0.1,
  AUD: 0.1,
  JPY: 0.05,
};

/** Rough units per USD so amounts look plausible in each currency (unlisted currencies: 1). */
const PER_USD: Readonly<Record<string, number>> = { USD: 1, EUR: 0.92, GBP: 0.79, AUD: 1.52, JPY: 150 };

export interface Scenario {
  /** Currency weights, e.g. { USD: 3, EUR: 1 }; every code must be ISO 4217. */
  currencies?: Readonly<Record<string, number>>;
  merchants?: readonly string[];
  /** Share (0–1) of events whose event time is in the past (late arrivals). */
  lateShare?: number;
  /** Late events are 1 minute to this many ms in the past. Default 10 minutes. */
  lateMaxMs?: number;
  /** Share (0–1) of records that repeat an earlier event (same transaction_id, same figures). */
  duplicateShare?: number;
  /** Share (0–1) of records that are malformed bytes instead of an event. */
  malformedShare?: number;
}

interface GenerateBase {
  seed: number;
  /** Spread event times uniformly over [now - spanMs, now]. Default 0 (all at now). */
  spanMs?: number;
  scenario?: Scenario;
}

/**
 * "Now" comes from exactly one of: `nowMs`, a fixed clock (same seed → identical records), or
 * `now`, a clock read once per generated event (malformed ones included), so a long paced send
 * stamps each event with the time it is made (i.e. sent) instead of the time the run started.
 * Duplicates copy an earlier event whole and do not read it.
 */
export type GenerateOptions = GenerateBase &
  ({ nowMs: number; now?: undefined } | { now: () => number; nowMs?: undefined });

export type GeneratedRecord =
  | { kind: 'event'; event: PaymentEvent }
  /** `reason` is what validateRecord reports for `data` (with the default 24 h future skew). */
  | { kind: 'malformed'; data: string; reason: RejectReason; partitionKey: string };

/** One line describing what is wrong with a scenario, or undefined when it is usable. */
export function scenarioProblem(s: Scenario): string | undefined {
  for (const f of ['lateShare', 'duplicateShare', 'malformedShare'] as const) {
    const v = s[f];
    if (v !== undefined && !(v >= 0 && v <= 1)) return `${f} must be from 0 to 1, got ${v}`;
  }
  if (s.lateMaxMs !== undefined && !(Number.isInteger(s.lateMaxMs) && s.lateMaxMs >= 60_000)) {
    return `lateMaxMs must be a whole number of ms ≥ 60000, got ${s.lateMaxMs}`;
  }
  if (s.currencies !== undefined) {
    const entries = Object.entries(s.currencies);
    if (entries.length === 0) return 'currencies must name at least one currency';
    for (const [code, w] of entries) {
      if (currencyExponent(code) === undefined) return `currency "${code}" is not an ISO 4217 code`;
      if (!(Number.isFinite(w) && w >= 0)) return `weight of ${code} must be a number ≥ 0, got ${w}`;
    }
    if (entries.every(([, w]) => w === 0)) return 'at least one currency weight must be > 0';
  }
  if (s.merchants !== undefined) {
    if (s.merchants.length === 0) return 'merchants must name at least one merchant';
    for (const m of s.merchants) {
      if (m.trim() === '' || m.length > 128) return `merchant "${m}" must be 1-128 characters`;
    }
  }
  return undefined;
}

/** Cumulative-weight picker. */
function picker<T>(items: readonly (readonly [T, number])[]): (r: number) => T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  const cum: number[] = [];
  let acc = 0;
  for (const [, w] of items) {
    acc += w / total;
    cum.push(acc);
  }
  return (r) => {
    for (let i = 0; i < cum.length; i++)
      if (r < (cum[i] as number)) return (items[i] as readonly [T, number])[0];
    return (items[items.length - 1] as readonly [T, number])[0];
  };
}

const DUPLICATE_MEMORY = 256;

/**
 * Yields records forever; take as many as needed. Throws RangeError for an invalid scenario
 * (check with scenarioProblem first to report it nicely).
 */
export function* generateEvents(opts: GenerateOptions): Generator<GeneratedRecord, never, undefined> {
  const s = opts.scenario ?? {};
  const problem = scenarioProblem(s);
  if (problem !== undefined) throw new RangeError(problem);
  const rng = mulberry32(opts.seed);
  // Reading the clock never touches rng: ids, amounts and merchants don't depend on it.
  const fixedMs = opts.now === undefined ? opts.nowMs : 0;
  const clock = opts.now ?? (() => fixedMs);
  const spanMs = Math.max(0, Math.floor(opts.spanMs ?? 0));
  const pickCurrency = picker(Object.entries(s.currencies ?? DEFAULT_CURRENCY_MIX));
  const merchants = s.merchants ?? DEFAULT_MERCHANTS;
  const lateShare = s.lateShare ?? 0;
  const lateMaxMs = s.lateMaxMs ?? 600_000;
  const duplicateShare = s.duplicateShare ?? 0;
  const malformedShare = s.malformedShare ?? 0;
  // Unique per run: a seeded 10-digit base plus a counter.
  let nextId = 1_000_000_000 + Math.floor(rng() * 8_000_000_000);
  const recent: PaymentEvent[] = [];

  const normal = (): number => {
    // Box–Muller; 1 - rng() keeps log() away from 0.
    return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  };

  const makeEvent = (): PaymentEvent => {
    const currency = pickCurrency(rng());
    const exp = currencyExponent(currency) as number;
    // Log-normal, median ~35 USD, long right tail, clamped to a sane card-payment range.
    const usd = Math.min(20_000, Math.max(0.5, Math.exp(Math.log(35) + 1.1 * normal())));
    const amountMinor = Math.max(1, Math.round(usd * (PER_USD[currency] ?? 1) * 10 ** exp));
    const nowMs = clock();
    let ts = spanMs > 0 ? nowMs - Math.floor(rng() * (spanMs + 1)) : nowMs;
    if (lateShare > 0 && rng() < lateShare) ts -= 60_000 + Math.floor(rng() * (lateMaxMs - 60_000));
    return {
      transaction_id: `TXN${nextId++}`,
      amount: fromMinor(amountMinor, exp),
      currency,
      merchant: merchants[Math.floor(rng() * merchants.length)] as string,
      event_timestamp: ts,
      amountMinor,
    };
  };

  while (true) {
    if (malformedShare > 0 && rng() < malformedShare) {
      yield malformed(makeEvent(), rng);
      continue;
    }
    if (duplicateShare > 0 && recent.length > 0 && rng() < duplicateShare) {
      yield { kind: 'event', event: { ...(recent[Math.floor(rng() * recent.length)] as PaymentEvent) } };
      continue;
    }
    const e = makeEvent();
    if (recent.length < DUPLICATE_MEMORY) recent.push(e);
    else recent[Math.floor(rng() * DUPLICATE_MEMORY)] = e;
    yield { kind: 'event', event: e };
  }
}

const MALFORMED: readonly ((e: PaymentEvent) => readonly [RejectReason, string])[] = [
  (e) => ['not_json', serializeEvent(e).slice(0, 40)],
  () => ['not_object', '[1,2,3]'],
  (e) => [
    'missing_field',
    JSON.stringify({ transaction_id: e.transaction_id, amount: e.amount, currency: e.currency }),
  ],
  (e) => ['wrong_type', serializeEvent({ ...e, amount: String(e.amount) as unknown as number })],
  (e) => ['amount_negative', serializeEvent({ ...e, currency: 'USD', amount: -12.5 })],
  (e) => ['amount_too_precise', serializeEvent({ ...e, currency: 'USD', amount: 12.345 })],
  (e) => ['unknown_currency', serializeEvent({ ...e, currency: 'usd' })],
  (e) => ['timestamp_not_integer', serializeEvent({ ...e, event_timestamp: e.event_timestamp + 0.5 })],
  (e) => [
    'timestamp_too_old',
    serializeEvent({ ...e, event_timestamp: Math.floor(e.event_timestamp / 1000) }),
  ],
  (e) => [
    'timestamp_in_future',
    serializeEvent({ ...e, event_timestamp: e.event_timestamp + 30 * 86_400_000 }),
  ],
  (e) => ['transaction_id_empty', serializeEvent({ ...e, transaction_id: '' })],
  (e) => ['merchant_too_long', serializeEvent({ ...e, merchant: 'M'.repeat(129) })],
];

function malformed(e: PaymentEvent, rng: () => number): GeneratedRecord {
  const [reason, data] = (MALFORMED[Math.floor(rng() * MALFORMED.length)] as (typeof MALFORMED)[number])(e);
  return { kind: 'malformed', data, reason, partitionKey: e.transaction_id };
}

/** The bytes to put on the stream for a generated record. */
export function recordData(r: GeneratedRecord): string {
  return r.kind === 'event' ? serializeEvent(r.event) : r.data;
}

/** The partition key to use: the transaction id. */
export function recordPartitionKey(r: GeneratedRecord): string {
  return r.kind === 'event' ? r.event.transaction_id : r.partitionKey;
}

/** First n items of an iterable (the generator is infinite). */
export function take<T>(it: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const x of it) {
    out.push(x);
    if (out.length >= n) break;
  }
  return out;
}
