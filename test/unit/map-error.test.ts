import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { mapModelError } from '../../server/src/model/map-error.js';

/** The shape the SDK's APIError has, without loading the SDK. */
function apiError(status: number, apiMessage: string | null, headers: Record<string, string> = {}): unknown {
  return { status, apiMessage, headers: new Headers(headers), message: `${status} ${apiMessage ?? ''}`, name: 'APIError' };
}

describe('mapping model errors', () => {
  it.each([
    [401, 'unauthorized', /ANTHROPIC_API_KEY/],
    [403, 'forbidden', /refused this request/],
    [400, 'badRequest', /The API said: max_tokens: too large/],
    [404, 'badRequest', /efrit\.model/],
    [429, 'rateLimited', /rate limiting/],
    [529, 'overloaded', /overloaded/],
    [500, 'apiError', /failed with 500/],
  ] as const)('status %i becomes %s', (status, reason, message) => {
    const mapped = mapModelError(apiError(status, status === 400 ? 'max_tokens: too large' : 'nope'));
    expect(mapped.reason).toBe(reason);
    expect(mapped.message).toMatch(message);
  });

  it('keeps what retry-after asked for', () => {
    const mapped = mapModelError(apiError(429, 'slow down', { 'retry-after': '7' }));
    expect(mapped.retryAfterSeconds).toBe(7);
    expect(mapped.message).toContain('wait 7 s');
  });

  it('classifies transport failures', () => {
    expect(mapModelError(new TypeError('fetch failed')).reason).toBe('network');
    expect(mapModelError(Object.assign(new Error('Request timed out.'), { name: 'APIConnectionTimeoutError' })).reason).toBe('timeout');
    expect(mapModelError(new SyntaxError('Unexpected token')).reason).toBe('apiError');
    expect(mapModelError(Object.assign(new Error('Overloaded'), { name: 'APIError' })).reason).toBe('overloaded');
  });

  it('passes our own errors through untouched', () => {
    const own = new EfritError('stalled', 'quiet');
    expect(mapModelError(own)).toBe(own);
  });
});
