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

  it("names the variable another provider's key came from, and that provider's endpoint setting", () => {
    const openai = { provider: 'openai' as const, keySource: 'TEAM_LLM_KEY' };
    const refused = mapModelError({ status: 401, headers: new Headers(), error: { message: 'Incorrect API key provided: sk-...WXYZ' } }, (text) => text, openai);
    expect(refused).toMatchObject({ reason: 'unauthorized', message: 'The API refused the key (401). Check TEAM_LLM_KEY.' });
    const unknown = mapModelError({ status: 404, headers: new Headers(), error: { message: 'The model `gpt-9` does not exist' } }, (text) => text, openai);
    expect(unknown.message).toBe('The API does not know this model or endpoint (404); check efrit.model and efrit.openai.baseURL. The API said: The model `gpt-9` does not exist');
    expect(mapModelError(new TypeError('fetch failed'), (text) => text, openai).message).toContain('efrit.openai.baseURL');
  });
});
