/**
 * The one seam between the SDK clients a Lambda bundle builds (through this folder's resolver,
 * src/aws/clients.ts) and the runtime that hosts it. On AWS nothing is registered and clients are
 * left as built. The local runtime (src/local/function-runtime.ts) registers a hook in each
 * execution environment before it imports the bundle; the hook adds middleware to every client the
 * function builds (the local IAM check). A global symbol rather than an import: the bundle carries
 * its own copy of this module, and only the key is shared between the two copies.
 */
/** What a hook may touch: the client's middleware stack. */
export interface HookableClient {
  middlewareStack: {
    add(middleware: (next: Handler, context: HandlerContext) => Handler, options: MiddlewareOptions): void;
  };
}

/** The slice of the SDK's middleware types a hook uses (the SDK's own are structurally the same). */
export type Handler = (args: {
  input: object;
  request?: unknown;
}) => Promise<{ response: unknown; output?: unknown }>;
export interface HandlerContext {
  clientName?: string;
  commandName?: string;
}
export interface MiddlewareOptions {
  step: 'initialize' | 'serialize' | 'build' | 'finalizeRequest' | 'deserialize';
  name: string;
  priority?: 'high' | 'normal' | 'low';
}

export type ClientHook = (client: HookableClient) => void;

/** The hook's key: the local runtime's bootstrap sets `globalThis[KEY]` in each environment. */
const KEY = Symbol.for('paypipe.sdk-client-hook');

/** Passes a freshly built client through the registered hook, if any. */
export function hooked<C>(client: C): C {
  const hook = (globalThis as Record<symbol, unknown>)[KEY];
  if (typeof hook === 'function') (hook as ClientHook)(client as unknown as HookableClient);
  return client;
}

/** An SDK call as an authorizer sees it: the client, the command and the string members of its input. */
export interface ObservedCall {
  clientName: string;
  commandName: string;
  input: Record<string, string>;
}

/** A denial, as the HTTP response the service would have sent (the SDK's deserializer parses it). */
export interface DeniedHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Adds an authorizer to a client: every call is first put to `authorize`; a denial short-circuits
 * the request with the service's own error response, parsed by the SDK as if the service had sent
 * it (so callers see exactly the exception AWS would raise). Placed inside the deserializer, after
 * signing: what is checked is the request as it would go out. The local runtime's worker bootstrap
 * (src/local/function-runtime.ts) adds the same middleware to the clients a function builds.
 */
export function addAuthorizer(
  client: HookableClient,
  authorize: (call: ObservedCall) => DeniedHttpResponse | undefined,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input: Record<string, string> = {};
      for (const [k, v] of Object.entries(args.input ?? {})) if (typeof v === 'string') input[k] = v;
      const denied = authorize({
        clientName: context.clientName ?? '',
        commandName: context.commandName ?? '',
        input,
      });
      if (denied !== undefined) {
        return {
          response: {
            statusCode: denied.statusCode,
            headers: denied.headers,
            body: Buffer.from(denied.body),
          },
        };
      }
      return next(args);
    },
    { step: 'deserialize', name: 'paypipeLocalIam', priority: 'low' },
  );
}
