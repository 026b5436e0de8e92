/** src/aws/errors.ts: the name and one line of whatever an SDK call throws. */
import { describe, expect, it } from 'vitest';
import { errorLine, errorName, httpStatus } from '../../src/aws/errors.js';

describe('errorName', () => {
  it('is the modelled name of a service exception', () => {
    expect(errorName(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }))).toBe(
      'ResourceNotFoundException',
    );
  });

  it("is a network failure's code, not a bare 'Error'", () => {
    expect(errorName(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
  });

  it('is Error for anything else thrown', () => {
    for (const e of [new Error('x'), 'text', 42, null, undefined, {}, { name: '' }])
      expect(errorName(e)).toBe('Error');
  });
});

describe('errorLine', () => {
  it('is one line however long the message (SDK messages can carry XML or a stack)', () => {
    const e = Object.assign(new Error('Access Denied\n<Error><Code>AccessDenied</Code></Error>\n  at x'), {
      name: 'AccessDenied',
    });
    expect(errorLine(e)).toBe('AccessDenied: Access Denied');
  });
});

describe('httpStatus', () => {
  it('reads the response status the SDK attaches, else undefined', () => {
    expect(httpStatus({ $metadata: { httpStatusCode: 403 } })).toBe(403);
    expect(httpStatus(new Error('x'))).toBeUndefined();
    expect(httpStatus(null)).toBeUndefined();
  });
});
