/**
 * paypipe.config.json: the one merge rule and the validation of what a user writes.
 *
 * Adversaries: (1) any combination of layers — the effective value must be the most specific
 * layer's, whole, and the reported source must be that layer (fast-check over random layers);
 * (2) hostile or mistaken files — any JSON, any text, any value in any setting must either be
 * accepted as valid or refused with one line that names the file, the key path, the value and
 * what is allowed; never a stack trace, never silently ignored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConfigFileError,
  configJsonSchema,
  describeSource,
  mergeSettings,
  parseConfigFile,
  type SettingSource,
} from '../../src/pipeline/config-file.js';
import {
  BUILTIN_DEFAULTS,
  BUILTIN_ENVIRONMENTS,
  ConfigError,
  isAllowed,
  resolveConfig,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type Settings,
} from '../../src/pipeline/config.js';

const LABEL = 'paypipe.config.json';

/** Arbitrary allowed value of a setting (boundaries included). */
function allowedValue(key: SettingKey): fc.Arbitrary<unknown> {
  const spec = SETTINGS[key];
  switch (spec.kind) {
    case 'int': {
      const range = fc.oneof(
        fc.constantFrom(spec.min, spec.max),
        fc.integer({ min: spec.min, max: Math.min(spec.max, Number.MAX_SAFE_INTEGER) }),
      );
      if (spec.unlimited !== undefined) return fc.oneof(fc.constant(-1), range);
      if (spec.nullMeans !== undefined) return fc.oneof(fc.constant(null), range);
      return range;
    }
    case 'bool':
      return fc.boolean();
    case 'enum':
      return fc.constantFrom(...spec.values);
    case 'text':
      if (key === 'region')
        return fc.constantFrom('eu-west-1', 'us-east-1', 'ap-southeast-2', 'us-gov-west-1');
      if (key === 'schedule')
        return fc.constantFrom('rate(1 minute)', 'rate(5 minutes)', 'cron(0/5 * * * ? *)');
      if (key === 'alarmSubscription')
        return fc.constantFrom(
          null,
          'oncall@example.com',
          'https://hooks.example.com/paypipe',
          'arn:aws:sqs:eu-west-1:123456789012:alerts',
        );
      return fc.stringMatching(/^[a-z][a-z0-9-]{0,19}$/);
    case 'tags':
      return fc.dictionary(
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.:/=+@-]{0,20}$/),
        fc.stringMatching(/^[\w .:/=+@-]{0,30}$/),
        {
          maxKeys: 3,
        },
      );
  }
}

/** A random section: some settings, each with an allowed value. */
const section = fc
  .subarray([...SETTING_KEYS])
  .chain((keys) =>
    fc
      .tuple(...keys.map((k) => allowedValue(k)))
      .map((vs) => Object.fromEntries(keys.map((k, i) => [k, vs[i]]))),
  );

describe('the merge rule', () => {
  it('every setting takes the most specific layer that sets it, whole, and says which', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('dev', 'prod', 'staging'),
        section,
        section,
        section,
        // What the AWS settings resolver found outside the file (AWS_REGION, a profile's region).
        fc.option(
          fc.record({
            value: fc.constantFrom('eu-west-1', 'us-east-2'),
            source: fc.constantFrom('AWS_REGION', 'AWS_DEFAULT_REGION', 'profile ops'),
          }),
          { nil: undefined },
        ),
        (environment, flags, envSection, defaults, outside) => {
          const { overrides, sources } = mergeSettings({
            environment,
            flags: Object.fromEntries(
              Object.entries(flags).map(([k, value]) => [k, { value, flag: `--${k}` }]),
            ),
            file: { label: LABEL, content: { defaults, environments: { [environment]: envSection } } },
            ambient: outside === undefined ? {} : { region: outside },
          });
          for (const key of SETTING_KEYS) {
            const layers: Array<[unknown, SettingSource]> = [
              [flags[key], { layer: 'flag', flag: `--${key}` }],
              [envSection[key], { layer: 'file-environment', file: LABEL, environment }],
              [defaults[key], { layer: 'file-defaults', file: LABEL }],
            ];
            if (key === 'region' && outside !== undefined) {
              layers.push([outside.value, { layer: 'env', variable: outside.source }]);
            }
            const first = layers.find(([v]) => v !== undefined);
            if (first === undefined) {
              expect(overrides[key]).toBeUndefined();
              const builtin = Object.hasOwn(BUILTIN_ENVIRONMENTS[environment] ?? {}, key);
              expect(sources[key]).toEqual(
                builtin ? { layer: 'builtin-environment', environment } : { layer: 'builtin' },
              );
            } else {
              // Whole values: a section's tags replace the defaults' tags, never merged.
              expect(overrides[key]).toEqual(first[0]);
              expect(sources[key]).toEqual(first[1]);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('resolves to the values the merge chose, with the built-in defaults for the rest', () => {
    // Lifecycle settings are left out: their combinations have rules of their own (tested below).
    const lifecycle: SettingKey[] = [
      'infrequentAccessAfterDays',
      'glacierAfterDays',
      'expirationDays',
      'transitionMinObjectSizeBytes',
    ];
    const plain = SETTING_KEYS.filter((k) => !lifecycle.includes(k));
    fc.assert(
      fc.property(fc.constantFrom('dev', 'prod'), section, (environment, s) => {
        const given = Object.fromEntries(Object.entries(s).filter(([k]) => plain.includes(k as SettingKey)));
        const c = resolveConfig({ environment, ...given });
        for (const key of SETTING_KEYS) {
          const expected =
            key in given
              ? given[key]
              : Object.hasOwn(BUILTIN_ENVIRONMENTS[environment] ?? {}, key)
                ? BUILTIN_ENVIRONMENTS[environment]?.[key]
                : BUILTIN_DEFAULTS[key];
          expect(c.settings[key]).toEqual(expected);
        }
        expect(c.aggregator.retryAttempts).toBe(c.settings.retryAttempts);
        expect(c.streams.input.retentionHours).toBe(c.settings.retentionHours);
        expect(c.encryption.customerManagedKey).toBe(c.settings.kms);
      }),
      { numRuns: 200 },
    );
  });

  it('names sources the way `paypipe config` prints them', () => {
    expect(describeSource({ layer: 'flag', flag: '--region' })).toBe('flag --region');
    expect(describeSource({ layer: 'file-environment', file: LABEL, environment: 'prod' })).toBe(
      'paypipe.config.json environments.prod',
    );
    expect(describeSource({ layer: 'file-defaults', file: LABEL })).toBe('paypipe.config.json defaults');
    expect(describeSource({ layer: 'env', variable: 'AWS_REGION' })).toBe('environment variable AWS_REGION');
    expect(describeSource({ layer: 'env', variable: 'profile ops' })).toBe('profile ops');
    expect(describeSource({ layer: 'builtin-environment', environment: 'dev' })).toBe('default for dev');
    expect(describeSource({ layer: 'builtin' })).toBe('default');
  });
});

describe('production defaults', () => {
  it('keep records 7 days, retry until they expire with no age limit, encrypt with a customer key, protect the stack', () => {
    for (const environment of ['prod', 'staging', 'anything-else']) {
      const c = resolveConfig({ environment });
      expect(c.streams.input.retentionHours).toBeGreaterThanOrEqual(168);
      expect(c.aggregator.maxRecordAgeSeconds).toBe(-1);
      expect(c.aggregator.retryAttempts).toBe(-1);
      expect(c.encryption.customerManagedKey).toBe(true);
      expect(c.terminationProtection).toBe(true);
      expect(c.removalPolicy).toBe('retain');
      expect(c.lifecycle.noncurrentVersionExpirationDays).toBeGreaterThan(0);
      expect(c.lifecycle.abortIncompleteMultipartUploadDays).toBeGreaterThan(0);
    }
    // dev is disposable, but still loses nothing within its retention.
    const dev = resolveConfig();
    expect([dev.removalPolicy, dev.terminationProtection, dev.encryption.customerManagedKey]).toEqual([
      'destroy',
      false,
      false,
    ]);
    expect([dev.aggregator.retryAttempts, dev.aggregator.maxRecordAgeSeconds]).toEqual([-1, -1]);
  });

  it('capacity mode is selectable', () => {
    expect(resolveConfig({ capacityMode: 'ON_DEMAND' }).streams.input.capacityMode).toBe('ON_DEMAND');
    expect(resolveConfig().streams.input.capacityMode).toBe('PROVISIONED');
  });
});

describe('values at and beyond every range', () => {
  it('accepts the bounds (and -1 / null where they mean something) and refuses one past them', () => {
    for (const key of SETTING_KEYS) {
      const spec = SETTINGS[key];
      if (spec.kind !== 'int') continue;
      const ok = [spec.min, spec.max, ...(spec.unlimited ? [-1] : []), ...(spec.nullMeans ? [null] : [])];
      const bad = [spec.min - 1, spec.max + 1, spec.min + 0.5, '1', true, ...(spec.unlimited ? [-2] : [-1])];
      for (const v of ok) expect(isAllowed(key, v), `${key}=${v}`).toBe(true);
      for (const v of bad) {
        if (v === -1 && spec.unlimited !== undefined) continue;
        expect(isAllowed(key, v), `${key}=${String(v)}`).toBe(false);
        const e = (() => {
          try {
            parseConfigFile(JSON.stringify({ environments: { prod: { [key]: v } } }), LABEL);
          } catch (err) {
            return err as ConfigFileError;
          }
          return undefined;
        })();
        expect(e?.message).toBe(
          `${LABEL} environments.prod.${key} must be ${
            spec.unlimited !== undefined
              ? `-1 (${spec.unlimited}) or a whole number from ${spec.min} to ${spec.max}`
              : spec.nullMeans !== undefined
                ? `null (${spec.nullMeans}) or a whole number from ${spec.min} to ${spec.max}`
                : `a whole number from ${spec.min} to ${spec.max}`
          }, got ${JSON.stringify(v)}`,
        );
      }
    }
  });

  it('refuses lifecycle combinations S3 would reject, naming both settings and values', () => {
    expect(() =>
      resolveConfig({ environment: 'prod', infrequentAccessAfterDays: 60, glacierAfterDays: 80 }),
    ).toThrow(
      new ConfigError(
        'glacierAfterDays',
        'glacierAfterDays (80) must be at least infrequentAccessAfterDays (60) + 30, or null',
      ),
    );
    expect(() => resolveConfig({ environment: 'prod', expirationDays: 90 })).toThrow(
      /^expirationDays \(90\) must be greater than the last transition \(90 days\)/,
    );
    expect(
      resolveConfig({ environment: 'prod', glacierAfterDays: null, expirationDays: 31 }).lifecycle,
    ).toMatchObject({
      infrequentAccessAfterDays: 30,
      glacierAfterDays: null,
      expirationDays: 31,
    });
  });
});

describe('hostile and mistaken files', () => {
  /** parse → ok, or exactly one line naming the file; anything else (a TypeError, a stack) fails. */
  function outcome(text: string): { ok: true } | { ok: false; message: string } {
    try {
      parseConfigFile(text, LABEL);
      return { ok: true };
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigFileError);
      const message = (e as Error).message;
      expect(message).not.toContain('\n');
      expect(message.startsWith(LABEL)).toBe(true);
      expect(message.length).toBeLessThan(400);
      return { ok: false, message };
    }
  }

  it('any text and any JSON value: accepted, or refused in one line naming the file', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (t) => void outcome(t)),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => void outcome(JSON.stringify(v))),
      {
        numRuns: 500,
      },
    );
  });

  it('any value in any setting: accepted exactly when allowed, else refused naming the key path and the value', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SETTING_KEYS),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.integer({ min: -2, max: 100_000 }), fc.constant(null)),
        fc.constantFrom<['defaults'] | ['environments', string]>(['defaults'], ['environments', 'prod']),
        (key, value, where) => {
          const file =
            where[0] === 'defaults'
              ? { defaults: { [key]: value } }
              : { environments: { prod: { [key]: value } } };
          const r = outcome(JSON.stringify(file));
          // JSON has no -0 or undefined: compare with what the file really holds.
          const held = JSON.parse(JSON.stringify(file)) as {
            defaults?: Record<string, unknown>;
            environments?: { prod: Record<string, unknown> };
          };
          const v = where[0] === 'defaults' ? held.defaults?.[key] : held.environments?.prod[key];
          expect(r.ok).toBe(isAllowed(key, v));
          if (!r.ok) {
            expect(r.message).toContain(`${where.join('.')}.${key} must be `);
            expect(r.message).toContain(', got ');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([
    [
      '{"defaults": {"retentionHours": 12}}',
      'paypipe.config.json defaults.retentionHours must be a whole number from 24 to 8760, got 12',
    ],
    [
      '{"environments": {"prod": {"retentionHour": 168}}}',
      'paypipe.config.json environments.prod has an unknown setting "retentionHour" (did you mean "retentionHours"?)',
    ],
    [
      '{"environment": {}}',
      'paypipe.config.json has an unknown key "environment" (did you mean "environments"?)',
    ],
    [
      '{"environments": {"Prod": {}}}',
      'paypipe.config.json environments has a section "Prod" that is not an environment name: it must start with a letter and use only a-z, 0-9 and "-" (at most 20 characters)',
    ],
    [
      '{"environments": {"__proto__": {"kms": false}}}',
      /environments has a section "__proto__" that is not an environment name/,
    ],
    [
      '{"defaults": {"__proto__": {"kms": false}}}',
      'paypipe.config.json defaults has an unknown setting "__proto__"',
    ],
    ['{"defaults": {"constructor": 1}}', /defaults has an unknown setting "constructor"/],
    [
      '{"environments": []}',
      'paypipe.config.json environments must be an object of environment sections, got []',
    ],
    ['{"defaults": "x"}', 'paypipe.config.json defaults must be an object of settings, got "x"'],
    ['[]', 'paypipe.config.json must be a JSON object with "defaults" and "environments", got []'],
    ['', 'paypipe.config.json is not valid JSON at line 1, column 1: unexpected end of file'],
    [
      '{"defaults": {"kms": true,}}',
      'paypipe.config.json is not valid JSON at line 1, column 27: a trailing comma before }',
    ],
    ['// comment\n{}', 'paypipe.config.json is not valid JSON at line 1, column 1: comments are not JSON'],
    [
      '{\n  "defaults": {\n    "kms": yes\n  }\n}',
      "paypipe.config.json is not valid JSON at line 3, column 12: unexpected 'y'",
    ],
    [
      "{'defaults': {}}",
      'paypipe.config.json is not valid JSON at line 1, column 2: expected a "quoted" key, found "\'"',
    ],
    [
      '{"a": "x\ny"}',
      'paypipe.config.json is not valid JSON at line 1, column 9: a control character (a raw line break?) inside a string',
    ],
    ['{"defaults": {"kms": "true"}}', 'paypipe.config.json defaults.kms must be true or false, got "true"'],
    [
      '{"defaults": {"capacityMode": "on_demand"}}',
      'paypipe.config.json defaults.capacityMode must be one of "PROVISIONED", "ON_DEMAND", got "on_demand"',
    ],
    [
      '{"defaults": {"region": "mars-1"}}',
      'paypipe.config.json defaults.region must be an AWS region name like ap-southeast-2, got "mars-1"',
    ],
    [
      '{"defaults": {"tags": {"aws:owner": "me"}}}',
      /defaults.tags must be an object of tag names .* not starting with "aws:"/,
    ],
    [
      '{"defaults": {"shardCount": 1e400}}',
      /defaults.shardCount must be a whole number from 1 to 500, got null/,
    ],
    ['{"defaults": {"batchSize": "x".repeat}}', /is not valid JSON/],
  ] as Array<[string, string | RegExp]>)('%s', (text, expected) => {
    const r = outcome(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      if (typeof expected === 'string') expect(r.message).toBe(expected);
      else expect(r.message).toMatch(expected);
    }
  });

  it('accepts a BOM, $schema and $comment, and an empty file object', () => {
    expect(
      parseConfigFile(
        '\uFEFF{"$schema": "./x.json", "$comment": "notes", "defaults": {"$comment": "c", "kms": false}}',
        LABEL,
      ),
    ).toEqual({
      defaults: { kms: false },
    });
    expect(parseConfigFile('{}', LABEL)).toEqual({});
  });

  it('refuses a file over 1 MiB unparsed', () => {
    const big = `{"$comment": "${'x'.repeat(1024 * 1024)}"}`;
    expect(() => parseConfigFile(big, LABEL)).toThrow(
      /is 1,048,\d{3} bytes; a configuration file is at most 1 MiB/,
    );
  });
});

describe('the JSON Schema', () => {
  it('shipped as paypipe.config.schema.json is the one generated from the zod schema', () => {
    const shipped = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'paypipe.config.schema.json'), 'utf8'),
    );
    expect(shipped).toEqual(configJsonSchema());
  });

  it('describes every setting with its range', () => {
    const props = (
      configJsonSchema() as {
        properties: { defaults: { properties: Record<string, { description?: string }> } };
      }
    ).properties.defaults.properties;
    for (const key of SETTING_KEYS) expect(props[key]?.description, key).toBe(SETTINGS[key].doc);
  });
});

// Type-level: Settings and the spec table list the same keys.
const _keys: Record<keyof Settings, true> = Object.fromEntries(SETTING_KEYS.map((k) => [k, true])) as Record<
  keyof Settings,
  true
>;
void _keys;
