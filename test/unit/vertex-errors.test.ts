/**
 * What a person reads when Claude on Vertex AI fails: the errors are the real
 * ones the Anthropic SDK (for Vertex's answers) and google-auth-library's
 * HTTP client (for the token exchange) throw.
 */
import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { gaxios } from 'google-auth-library';
import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { credentialError, vertexCallError } from '../../server/src/model/vertex-errors.js';
import { claudeIdOfVertexModel, priceForSetting } from '../../server/src/model/prices.js';
import { applySettings, defaultSettings } from '../../server/src/settings/config.js';

const token = 'ya29.a0AfB_byC3tokenThatMustNeverBeShown0123456789';
const context = { model: 'claude-sonnet-4-5@20250929', region: 'us-east5', projectId: 'acme-ml', redact: (text: string) => text.replaceAll(token, '[redacted]') };

function vertexAnswer(code: number, status: string, message: string): APIError {
  return APIError.generate(code, { error: { code, message, status } }, undefined, new Headers({ 'content-type': 'application/json' }));
}

function tokenEndpointAnswer(status: number, data: unknown): InstanceType<typeof gaxios.GaxiosError> {
  const config = { url: new URL('https://oauth2.googleapis.com/token'), method: 'POST' as const, headers: new Headers() };
  return new gaxios.GaxiosError('Bad Request', config, { status, statusText: 'Bad Request', data, config, headers: new Headers(), ok: false, bodyUsed: true } as never);
}

function expectError(error: unknown, reason: string, ...parts: string[]): EfritError {
  expect(error).toBeInstanceOf(EfritError);
  const efrit = error as EfritError;
  expect(efrit.reason).toBe(reason);
  for (const part of parts) expect(efrit.message).toContain(part);
  return efrit;
}

describe('a failed call to Vertex AI', () => {
  it('names the credentials to check when the token is refused (401)', () => {
    const error = vertexCallError(vertexAnswer(401, 'UNAUTHENTICATED', `Request had invalid authentication credentials: ${token}`), context);
    const mapped = expectError(error, 'unauthorized', '401 UNAUTHENTICATED', 'GOOGLE_APPLICATION_CREDENTIALS', '`gcloud auth application-default login`');
    expect(mapped.message).not.toContain('ya29');
  });

  it('names the project, the role and Model Garden when the account may not use the model (403), with what Google said, redacted and cut short', () => {
    const said = `Permission 'aiplatform.endpoints.predict' denied (token ${token}) ${'x'.repeat(400)}`;
    const mapped = expectError(vertexCallError(vertexAnswer(403, 'PERMISSION_DENIED', said), context), 'forbidden', '403 PERMISSION_DENIED', 'project acme-ml', 'Vertex AI User', 'Model Garden', 'GOOGLE_APPLICATION_CREDENTIALS', "Google said: Permission 'aiplatform.endpoints.predict' denied (token [redacted])");
    expect(mapped.message).not.toContain(token);
    expect(mapped.message.endsWith('x…')).toBe(true);
    expect(mapped.message.length).toBeLessThan(300 + 400);
  });

  it('names the model, region and project settings when Vertex does not serve the model there (404)', () => {
    const mapped = expectError(vertexCallError(vertexAnswer(404, 'NOT_FOUND', 'Publisher Model not found.'), context), 'badRequest', 'claude-sonnet-4-5@20250929', 'project acme-ml, region us-east5', 'efrit.vertex.region', 'efrit.vertex.projectId', 'Google said: Publisher Model not found.');
    expect(mapped.message).toContain('(404);');
    expect(mapped.message.endsWith('Google said: Publisher Model not found.')).toBe(true);
    const exactly = 'y'.repeat(300);
    expect(vertexCallError(vertexAnswer(404, 'NOT_FOUND', exactly), context).message.endsWith(`Google said: ${exactly}`)).toBe(true);
  });

  it('leaves out a status Google did not name, and a detail it did not give', () => {
    const mapped = expectError(vertexCallError(APIError.generate(403, { message: 'no' }, undefined, new Headers()), context), 'forbidden');
    expect(mapped.message).toContain('(403) in project');
    expect(mapped.message.endsWith('enabled in Model Garden.')).toBe(true);
    for (const body of [undefined, null, { error: null }, { error: 'denied' }]) {
      expect(vertexCallError(APIError.generate(403, body as never, undefined, new Headers()), context).message.endsWith('enabled in Model Garden.')).toBe(true);
    }
    for (const status of ['denied: PERMISSION_DENIED', 'PERMISSION_DENIED and more', 'X'.repeat(41)]) {
      expect(vertexCallError(vertexAnswer(403, status, ''), context).message).toContain('(403) in project');
    }
    const odd = expectError(vertexCallError(vertexAnswer(401, 'not a status', ''), context), 'unauthorized');
    expect(odd.message).toContain('(401).');
  });

  it('sends 429 RESOURCE_EXHAUSTED to the shared backoff, and 5xx as an API error, as for every provider', () => {
    expectError(vertexCallError(vertexAnswer(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded'), context), 'rateLimited', '429');
    expectError(vertexCallError(vertexAnswer(503, 'UNAVAILABLE', 'The service is currently unavailable.'), context), 'apiError', '503');
  });

  it('names the Vertex endpoint setting when the endpoint cannot be reached', () => {
    expectError(vertexCallError(new APIConnectionError({ message: 'Connection error.' }), context), 'network', 'efrit.vertex.baseURL');
    expectError(vertexCallError(null, context), 'network', 'efrit.vertex.baseURL');
  });

  it('passes an error already put in words through as it is', () => {
    const stalled = new EfritError('stalled', 'The model stream went quiet.');
    expect(vertexCallError(stalled, context)).toBe(stalled);
  });
});

describe('no access token', () => {
  it('names GOOGLE_APPLICATION_CREDENTIALS and gcloud login when no credentials are found', () => {
    const error = credentialError(new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.'), 30_000);
    expectError(error, 'noApiKey', 'No Google credentials', 'GOOGLE_APPLICATION_CREDENTIALS', '`gcloud auth application-default login`');
  });

  it('says the file GOOGLE_APPLICATION_CREDENTIALS names cannot be read, with why', async () => {
    const missing = await readFile('/nonexistent/efrit/service-account.json').catch((error: unknown) => error);
    expectError(credentialError(missing, 30_000), 'noApiKey', 'GOOGLE_APPLICATION_CREDENTIALS names a file that cannot be read (ENOENT)');
    const directory = await readFile(tmpdir()).catch((error: unknown) => error);
    expectError(credentialError(directory, 30_000), 'noApiKey', 'cannot be read (EISDIR)');
    const underFile = await readFile('/etc/hostname/service-account.json').catch((error: unknown) => error);
    expectError(credentialError(underFile, 30_000), 'noApiKey', 'cannot be read (ENOTDIR)');
    const forbidden = Object.assign(new Error("EACCES: permission denied, open '/etc/efrit/sa.json'"), { code: 'EACCES', errno: -13, syscall: 'open' });
    expectError(credentialError(forbidden, 30_000), 'noApiKey', 'cannot be read (EACCES)');
  });

  it('names the OAuth error when Google refuses the credentials, and nothing else it said', () => {
    const refused = credentialError(tokenEndpointAnswer(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }), 30_000);
    expectError(refused, 'unauthorized', '(400 invalid_grant)', 'GOOGLE_APPLICATION_CREDENTIALS', '`gcloud auth application-default login` again');
    const strange = credentialError(tokenEndpointAnswer(401, { error: `bad token ${token}` }), 30_000);
    expect(strange.message).toContain('(401)');
    expect(strange.message).not.toContain(token);
    for (const data of ['not json', null, undefined, { error: 'Invalid grant: invalid_grant' }]) {
      expect(credentialError(tokenEndpointAnswer(400, data), 30_000).message).toContain('token (400). Check');
    }
  });

  it('says the token endpoint could not be reached, or did not answer in time', () => {
    const config = { url: new URL('https://oauth2.googleapis.com/token'), method: 'POST' as const, headers: new Headers() };
    expectError(credentialError(new gaxios.GaxiosError('request to https://oauth2.googleapis.com/token failed', config, undefined, new TypeError('fetch failed')), 30_000), 'network', "Google's token endpoint", 'HTTPS_PROXY');
    expectError(credentialError(new TypeError('fetch failed'), 30_000), 'network');
    expectError(credentialError(Object.assign(new Error('connect ECONNREFUSED 169.254.169.254:80'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' }), 30_000), 'network');
    expectError(credentialError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 30_000), 'timeout', 'within 30 s');
  });

  it('gives the network layer its word for a proxy or TLS failure', () => {
    const proxy = new EfritError('proxy', 'Could not reach the proxy 127.0.0.1:9 (from HTTPS_PROXY).');
    const config = { url: new URL('https://oauth2.googleapis.com/token'), method: 'POST' as const, headers: new Headers() };
    expect(credentialError(new gaxios.GaxiosError('fetch failed', config, undefined, proxy), 30_000)).toBe(proxy);
    expect(credentialError(proxy, 30_000)).toBe(proxy);
  });

  it('never quotes a key file that is not what Google reads', () => {
    let parseError: unknown;
    try {
      JSON.parse('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg');
    } catch (error) {
      parseError = error;
    }
    const mapped = expectError(credentialError(parseError, 30_000), 'noApiKey', 'cannot be used for Vertex AI', 'GOOGLE_APPLICATION_CREDENTIALS');
    expect(mapped.message).not.toContain('MIIE');
    expectError(credentialError('thrown text', 30_000), 'noApiKey');
    expectError(credentialError(null, 30_000), 'noApiKey');
    let unreadableKey: unknown;
    try {
      createSign('RSA-SHA256').update('header.claims').sign('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    } catch (error) {
      unreadableKey = error;
    }
    expect(unreadableKey).toMatchObject({ code: 'ERR_OSSL_UNSUPPORTED' });
    expectError(credentialError(unreadableKey, 30_000), 'noApiKey', 'cannot be used for Vertex AI');
    expectError(credentialError({ message: 42, code: 7 }, 30_000), 'noApiKey');
  });
});

describe('vertex: models and settings', () => {
  it('prices a Vertex id as the Claude model it clearly names, and nothing else', () => {
    expect(claudeIdOfVertexModel('claude-sonnet-4-5@20250929')).toBe('claude-sonnet-4-5');
    expect(claudeIdOfVertexModel('claude-opus-4-6')).toBe('claude-opus-4-6');
    expect(claudeIdOfVertexModel('claude-3-5-haiku@20241022')).toBe('claude-3-5-haiku');
    expect(claudeIdOfVertexModel('gemini-2.5-pro')).toBeUndefined();
    expect(claudeIdOfVertexModel('claude-sonnet-4-5@latest')).toBeUndefined();
    expect(claudeIdOfVertexModel('publishers/anthropic/models/claude-sonnet-4-5')).toBeUndefined();

    expect(priceForSetting('vertex:claude-sonnet-4-5@20250929', {})).toEqual({ input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 });
    expect(priceForSetting('vertex:claude-haiku-4-5@20251001', {})).toMatchObject({ input: 1, output: 5 });
    expect(priceForSetting('vertex:gemini-2.5-pro', {})).toBeUndefined();
    const negotiated = { input: 2.5, output: 12, cacheWrite: 3, cacheRead: 0.25 };
    expect(priceForSetting('vertex:claude-sonnet-4-5@20250929', { 'claude-sonnet-4-5@20250929': negotiated })).toBe(negotiated);
  });

  it("takes a region only in a region's shape: it becomes part of the host the Google token is sent to", () => {
    for (const region of ['us-east5', 'europe-west1', 'asia-southeast1', 'global', 'northamerica-northeast1']) {
      expect(applySettings(defaultSettings(), { model: 'vertex:claude-sonnet-4-5@20250929', vertex: { region } }).warnings).toEqual([]);
    }
    for (const region of ['evil.example/#', 'us-east5.attacker.example', 'US-EAST5', 'us-east', 'global/x']) {
      const applied = applySettings(defaultSettings(), { vertex: { region } });
      expect(applied.warnings).toEqual([expect.stringContaining('expected a Vertex AI region such as "us-east5"')]);
      expect(applied.settings['vertex.region']).toBe('');
    }
  });
});
