/** src/aws/lambda.ts against a fake Lambda (no local server implements it). */
import {
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  invokeFunction,
  invokeWithLog,
  kinesisMappingsOf,
  producerDefaultCount,
} from '../../src/aws/lambda.js';
import { LAMBDA_ENV } from '../../src/pipeline/config.js';

const lambda = mockClient(LambdaClient);
afterAll(() => lambda.restore());
beforeEach(() => lambda.reset());
const client = new LambdaClient({ region: 'ap-southeast-2' });
/** A response payload as the SDK hands it over (bytes that can also say themselves as text). */
const payload = (text: string) =>
  Object.assign(new TextEncoder().encode(text), { transformToString: () => text });

describe('invokeFunction', () => {
  it('sends the payload as JSON, synchronously, and returns the answer as text', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload('{"sent":3}') });
    expect(await invokeFunction(client, 'producer', { count: 3 })).toEqual({
      payload: '{"sent":3}',
      functionError: undefined,
    });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString())).toEqual({ count: 3 });
  });

  it("reports the function's own failure apart from the SDK's", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload('{"errorType":"RangeError"}'),
    });
    expect(await invokeFunction(client, 'producer', {})).toEqual({
      payload: '{"errorType":"RangeError"}',
      functionError: 'Unhandled',
    });
  });
});

describe('producerDefaultCount', () => {
  const withEnv = (v: string | undefined) =>
    lambda.on(GetFunctionConfigurationCommand).resolves({
      Environment: { Variables: v === undefined ? {} : { [LAMBDA_ENV.eventsPerInvocation]: v } },
    });

  it('is the positive whole number in the function environment, else undefined', async () => {
    withEnv('250');
    expect(await producerDefaultCount(client, 'producer')).toBe(250);
    for (const bad of [undefined, '', '0', '-5', '2.5', 'many']) {
      lambda.reset();
      withEnv(bad);
      expect(await producerDefaultCount(client, 'producer'), String(bad)).toBeUndefined();
    }
  });

  it('is undefined when it cannot be read (no permission, no function)', async () => {
    lambda
      .on(GetFunctionConfigurationCommand)
      .rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    expect(await producerDefaultCount(client, 'producer')).toBeUndefined();
  });
});

describe('kinesisMappingsOf', () => {
  const arn = (stream: string) => `arn:aws:kinesis:ap-southeast-2:123456789012:stream/${stream}`;
  it('keeps the mappings from exactly that stream, over every page', async () => {
    lambda
      .on(ListEventSourceMappingsCommand)
      .resolvesOnce({
        EventSourceMappings: [
          { UUID: 'a', EventSourceArn: arn('in') },
          { UUID: 'b', EventSourceArn: arn('main-in') },
        ],
        NextMarker: 'm',
      })
      .resolves({
        EventSourceMappings: [
          { UUID: 'c', EventSourceArn: arn('in-2') },
          { UUID: 'd', EventSourceArn: arn('in') },
          { UUID: 'e', EventSourceArn: 'arn:aws:sqs:ap-southeast-2:123456789012:in' },
          { UUID: 'f' },
        ],
      });
    const found = await kinesisMappingsOf(client, 'agg', 'in');
    expect(found.map((m) => m.UUID)).toEqual(['a', 'd']);
    const calls = lambda.commandCalls(ListEventSourceMappingsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input.FunctionName).toBe('agg');
  });
});

describe('invokeWithLog (paypipe invoke on AWS)', () => {
  it('asks for the log tail and decodes it; a function error is in the result, not thrown', async () => {
    const log =
      'START RequestId: r Version: $LATEST\nboom\nEND RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\n';
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      ExecutedVersion: '$LATEST',
      LogResult: Buffer.from(log).toString('base64'),
      Payload: payload(
        '{"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find package \'x\'"}',
      ),
    });
    const out = await invokeWithLog(client, 'paypipe-dev-aggregator', { Records: [] });
    expect(out).toEqual({
      payload: '{"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find package \'x\'"}',
      functionError: 'Unhandled',
      log,
      executedVersion: '$LATEST',
      statusCode: 200,
    });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.LogType).toBe('Tail');
    expect(input?.InvocationType).toBe('RequestResponse');
    expect(input?.FunctionName).toBe('paypipe-dev-aggregator');
    expect(JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString())).toEqual({ Records: [] });
  });

  it('an SDK error (no such function) is thrown as the SDK raised it', async () => {
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' }));
    await expect(invokeWithLog(client, 'nope', {})).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
