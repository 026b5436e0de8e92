/**
 * Lambda as the CLI uses it: invoking the producer (`send --via-lambda`), reading a function's
 * environment (the producer's default events per run, when the schedule passes no count), and the
 * aggregator's Kinesis event source mappings (doctor lints them against the configuration).
 */
import type { EventSourceMappingConfiguration, LambdaClient } from '@aws-sdk/client-lambda';
import { LAMBDA_ENV } from '../pipeline/config.js';

export type { LambdaClient } from '@aws-sdk/client-lambda';

const sdk = () => import('@aws-sdk/client-lambda');

export interface Invocation {
  /** The response payload as text (the function's return value, or its error document). */
  payload: string;
  /** Set when the function itself failed (`Unhandled`, `Handled`). */
  functionError?: string | undefined;
}

/** One synchronous (RequestResponse) Invoke with a JSON payload, the log tail when asked. */
async function invoke(lambda: LambdaClient, functionName: string, payload: unknown, tail: boolean) {
  const { InvokeCommand } = await sdk();
  return lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      ...(tail ? { LogType: 'Tail' as const } : {}),
      Payload: Buffer.from(JSON.stringify(payload)),
    }),
  );
}

const payloadText = (p: Uint8Array | undefined): string =>
  p === undefined ? '' : Buffer.from(p).toString('utf8');

/** One synchronous (RequestResponse) Invoke with a JSON payload. SDK errors are thrown as they are. */
export async function invokeFunction(
  lambda: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<Invocation> {
  const out = await invoke(lambda, functionName, payload, false);
  return { payload: payloadText(out.Payload), functionError: out.FunctionError };
}

export interface TailedInvocation extends Invocation {
  /** The last 4 KB of the invocation's log, as Lambda returns it with LogType Tail (decoded). */
  log: string;
  /** The version that ran (`$LATEST`). */
  executedVersion?: string | undefined;
  statusCode?: number | undefined;
}

/**
 * One synchronous Invoke with LogType Tail: the response and the end of the invocation's log
 * (`paypipe invoke`). A function error is in the result (functionError), not thrown; SDK errors
 * (no such function, AccessDenied, throttling past the SDK's retries) are thrown as they are.
 */
export async function invokeWithLog(
  lambda: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<TailedInvocation> {
  const out = await invoke(lambda, functionName, payload, true);
  return {
    payload: payloadText(out.Payload),
    functionError: out.FunctionError,
    log: out.LogResult === undefined ? '' : Buffer.from(out.LogResult, 'base64').toString('utf8'),
    executedVersion: out.ExecutedVersion,
    statusCode: out.StatusCode,
  };
}

/**
 * The producer's own default events per run (its EVENTS_PER_INVOCATION variable), or undefined
 * when it cannot be read (no permission, no such function, not set).
 */
export async function producerDefaultCount(
  lambda: LambdaClient,
  functionName: string,
): Promise<number | undefined> {
  const { GetFunctionConfigurationCommand } = await sdk();
  try {
    const f = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    const v = Number(f.Environment?.Variables?.[LAMBDA_ENV.eventsPerInvocation]);
    return Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every event source mapping of `functionName` whose source is the Kinesis stream `streamName`
 * (all pages, through the SDK's paginator). A mapping from another stream is not the one the
 * pipeline deployed.
 */
export async function kinesisMappingsOf(
  lambda: LambdaClient,
  functionName: string,
  streamName: string,
): Promise<EventSourceMappingConfiguration[]> {
  const { paginateListEventSourceMappings } = await sdk();
  const found: EventSourceMappingConfiguration[] = [];
  for await (const page of paginateListEventSourceMappings(
    { client: lambda },
    { FunctionName: functionName },
  )) {
    for (const m of page.EventSourceMappings ?? []) {
      if (m.EventSourceArn?.endsWith(`:stream/${streamName}`) === true) found.push(m);
    }
  }
  return found;
}
