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
export type Handler = (args: { input: object; request?: unknown }) => Promise<{ response: unknown; output?: unknown }>;
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

const KEY = Symbol.for('paypipe.sdk-client-hook');

/** Registers the hook every client built from now on passes through (undefined removes it). */
export function setClientHook(hook: ClientHook | undefined): void {
  (globalThis as Record<symbol, unknown>)[KEY] = hook;
}

/** Passes a freshly built client through the registered hook, if any. */
export function hooked<C>(client: C): C {
  const hook = (globalThis as Record<symbol, unknown>)[KEY];
  if (typeof hook === 'function') (hook as ClientHook)(client as unknown as HookableClient);
  return client;
}
