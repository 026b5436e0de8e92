import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { latestValue, metricSeries, sumValues } from '../../src/aws/cloudwatch.js';

const cw = mockClient(CloudWatchClient);
beforeEach(() => cw.reset());
afterAll(() => cw.restore());

const client = new CloudWatchClient({ region: 'ap-southeast-2' });
const at = (min: number) => new Date(Date.UTC(2024, 0, 15, 10, min));

describe('metricSeries', () => {
  it('asks for every query in one request and joins the pages of the answer', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [{ Id: 'errors', Values: [1, 2], Timestamps: [at(1), at(2)] }],
        NextToken: 't',
      })
      .resolves({
        MetricDataResults: [
          { Id: 'errors', Values: [4], Timestamps: [at(3)] },
          { Id: 'unasked', Values: [9], Timestamps: [at(3)] },
        ],
      });
    const s = await metricSeries(
      client,
      [
        {
          id: 'errors',
          namespace: 'AWS/Lambda',
          metric: 'Errors',
          dimensions: { FunctionName: 'f' },
          stat: 'Sum',
        },
        {
          id: 'age',
          namespace: 'AWS/Lambda',
          metric: 'IteratorAge',
          dimensions: { FunctionName: 'f' },
          stat: 'Maximum',
        },
      ],
      { startMs: at(0).getTime(), endMs: at(15).getTime() },
    );
    expect(s.get('errors')).toEqual([
      { t: at(1).getTime(), v: 1 },
      { t: at(2).getTime(), v: 2 },
      { t: at(3).getTime(), v: 4 },
    ]);
    expect(s.get('age')).toEqual([]);
    expect(s.has('unasked')).toBe(false);
    const input = cw.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(input?.MetricDataQueries?.map((q) => q.Id)).toEqual(['errors', 'age']);
    expect(input?.MetricDataQueries?.[0]?.MetricStat).toEqual({
      Metric: {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: 'f' }],
      },
      Period: 60,
      Stat: 'Sum',
    });
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(2);
  });
});

describe('latestValue and sumValues', () => {
  it('latest is the newest point, not the largest, whatever order CloudWatch answers in', () => {
    const points = [
      { t: at(1).getTime(), v: 30_000 },
      { t: at(3).getTime(), v: 800 },
      { t: at(2).getTime(), v: 5 },
    ];
    expect(latestValue(points)).toBe(800);
    expect(latestValue([])).toBeUndefined();
    expect(latestValue(undefined)).toBeUndefined();
    expect(sumValues(points)).toBe(30_805);
    expect(sumValues(undefined)).toBe(0);
  });
});
