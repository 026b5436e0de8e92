/**
 * What an AWS SDK error is called and says, in one line. Service exceptions carry their modelled
 * name (`ResourceNotFoundException`); network failures are plain `Error`s whose `code` says what
 * happened (`ECONNRESET`, `ENOTFOUND`), so the code is the better name for those.
 */

/** The error's name for matching and messages: its own name, else its code, else `Error`. */
export function errorName(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const o = e as { name?: unknown; code?: unknown };
    if (typeof o.name === 'string' && o.name !== '' && o.name !== 'Error') return o.name;
    if (typeof o.code === 'string' && o.code !== '') return o.code;
  }
  return 'Error';
}

/** The first line of the error's message (SDK messages can carry a whole XML or stack trace). */
export const errorMessage = (e: unknown): string =>
  ((e instanceof Error ? e.message : String(e)).split('\n', 1)[0] ?? '').trim();

/** `Name: first line of the message`. */
export const errorLine = (e: unknown): string => `${errorName(e)}: ${errorMessage(e)}`;

/** The HTTP status of the response the error came from, when there was one. */
export const httpStatus = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
