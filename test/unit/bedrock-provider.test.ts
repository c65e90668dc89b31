import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { bedrockFailure } from '../../server/src/model/bedrock-errors.js';
import { awsCredentialVariables } from '../../server/src/model/bedrock-provider.js';
import { mapModelError } from '../../server/src/model/map-error.js';
import { parseModelChoice } from '../../server/src/model/model-choice.js';
import { claudeIdOfBedrockModel, priceForSetting } from '../../server/src/model/prices.js';
import { applySettings, defaultSettings } from '../../server/src/settings/config.js';

/** The shape the SDK's APIError has for an AWS error response: the body is `{ message }`, the kind is in `x-amzn-ErrorType`. */
function awsError(status: number, errorType: string, message: string): unknown {
  return { status, headers: new Headers({ 'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazon.bedrock/` }), error: { message }, message: `${status} ${message}`, name: 'APIError' };
}

/** What the SDK throws for an exception frame in the stream: an APIError with no status, typed by the frame's `:exception-type`. */
function streamException(type: string): unknown {
  return { status: undefined, type, error: { type: 'error', error: { type, message: 'x' } }, message: 'x', name: 'APIError' };
}

describe('bedrock: models', () => {
  it('reads only the first colon as the prefix, so a Bedrock id keeps its version suffix', () => {
    expect(parseModelChoice('bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0')).toEqual({ provider: 'bedrock', model: 'anthropic.claude-sonnet-4-5-20250929-v1:0' });
    expect(parseModelChoice('bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0')).toEqual({ provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' });
  });

  it('prices a Bedrock id as the Claude model it clearly names, and nothing else', () => {
    expect(claudeIdOfBedrockModel('anthropic.claude-sonnet-4-5-20250929-v1:0')).toBe('claude-sonnet-4-5');
    expect(claudeIdOfBedrockModel('global.anthropic.claude-opus-4-6-v1')).toBe('claude-opus-4-6');
    expect(claudeIdOfBedrockModel('eu.anthropic.claude-3-7-sonnet-20250219-v1:0')).toBe('claude-3-7-sonnet');
    expect(claudeIdOfBedrockModel('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3')).toBeUndefined();
    expect(claudeIdOfBedrockModel('meta.llama3-70b-instruct-v1:0')).toBeUndefined();
    expect(claudeIdOfBedrockModel('anthropic.claude-sonnet-4-5')).toBeUndefined();
    // Later revisions of an id are still that model.
    expect(claudeIdOfBedrockModel('anthropic.claude-haiku-4-5-20251001-v12:10')).toBe('claude-haiku-4-5');
    // A context-window variant (provisioned throughput) or a gateway's path is not clearly the on-demand model.
    expect(claudeIdOfBedrockModel('anthropic.claude-sonnet-4-5-20250929-v1:0:200k')).toBeUndefined();
    expect(claudeIdOfBedrockModel('my-gateway/anthropic.claude-sonnet-4-5-20250929-v1:0')).toBeUndefined();

    expect(priceForSetting('bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0', {})).toEqual({ input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 });
    expect(priceForSetting('bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0', {})).toMatchObject({ input: 1, output: 5 });
    expect(priceForSetting('bedrock:meta.llama3-70b-instruct-v1:0', {})).toBeUndefined();
    // The same id on another provider is that provider's to price.
    expect(priceForSetting('openai:anthropic.claude-sonnet-4-5-20250929-v1:0', {})).toBeUndefined();
    const negotiated = { input: 2.5, output: 12, cacheWrite: 3, cacheRead: 0.25 };
    expect(priceForSetting('bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0', { 'anthropic.claude-sonnet-4-5-20250929-v1:0': negotiated })).toBe(negotiated);
  });

  it('takes a region only in a region\'s shape: it becomes part of the host the signed request goes to', () => {
    for (const region of ['us-east-1', 'eu-central-2', 'us-gov-west-1', 'ap-southeast-5']) {
      expect(applySettings(defaultSettings(), { model: 'bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0', bedrock: { region } }).warnings).toEqual([]);
    }
    for (const region of ['evil.example/#', 'us-east-1.attacker.example', 'US-EAST-1', 'us-east']) {
      const applied = applySettings(defaultSettings(), { bedrock: { region } });
      expect(applied.warnings).toEqual([expect.stringContaining('expected an AWS region such as "us-east-1"')]);
      expect(applied.settings['bedrock.region']).toBe('');
    }
  });
});

describe('bedrock: failures in words a person can act on', () => {
  const credentials = awsCredentialVariables;

  it('names the AWS variables when AWS refuses the credentials, without echoing anything', () => {
    for (const type of ['UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignatureException', 'ExpiredTokenException', 'MissingAuthenticationTokenException']) {
      const mapped = bedrockFailure(awsError(403, type, 'The security token included in the request is invalid.'), credentials);
      expect(mapped).toBeInstanceOf(EfritError);
      expect(mapped).toMatchObject({ reason: 'unauthorized', message: `AWS refused the credentials (403 ${type}). Check ${credentials}.` });
    }
  });

  it('says what a denied call needs, with what AWS said', () => {
    const mapped = bedrockFailure(awsError(403, 'AccessDeniedException', "You don't have access to the model with the specified model ID."), credentials);
    expect(mapped).toMatchObject({ reason: 'forbidden', message: expect.stringContaining('bedrock:InvokeModelWithResponseStream') });
    expect(mapped?.message).toContain("AWS said: You don't have access to the model");
    expect(mapped?.message).toContain('AWS_PROFILE');
  });

  it('reads a 403 that names no error type as a denied call, and quotes AWS only when it said something, at most 300 characters of it', () => {
    const untyped = { status: 403, headers: new Headers(), error: {}, name: 'APIError' };
    expect(bedrockFailure(untyped, credentials)).toMatchObject({ reason: 'forbidden', message: expect.stringMatching(/^AWS denied this call \(403 AccessDeniedException\): .*in this region\.$/) });
    const exactly = 'x'.repeat(300);
    expect(bedrockFailure(awsError(403, 'AccessDeniedException', exactly), credentials)?.message).toMatch(new RegExp(` AWS said: ${exactly}$`));
    expect(bedrockFailure(awsError(403, 'AccessDeniedException', `${exactly}y`), credentials)?.message).toMatch(new RegExp(` AWS said: ${exactly}…$`));
  });

  it('names the variables when the credential chain finds nothing', () => {
    const chainFailure = Object.assign(new Error('Failed to resolve AWS credentials from the credential provider chain.'), { name: 'APIConnectionError', cause: Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }) });
    expect(bedrockFailure(chainFailure, credentials)).toMatchObject({ reason: 'noApiKey', message: expect.stringContaining(`set ${credentials} in the environment`) });
    // Either sign is enough: the SDK's wording, or the credential provider's error as its cause.
    expect(bedrockFailure(new Error('Failed to resolve AWS credentials from the credential provider chain.'), credentials)).toMatchObject({ reason: 'noApiKey' });
    expect(bedrockFailure(Object.assign(new Error('Connection error.'), { cause: Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }) }), credentials)).toMatchObject({ reason: 'noApiKey' });
    expect(bedrockFailure(Object.assign(new Error('Connection error.'), { cause: new TypeError('fetch failed') }), credentials)).toBeUndefined();
  });

  it('turns a throttling or unavailable exception frame into the shared backoff reasons', () => {
    expect(bedrockFailure(streamException('throttlingException'), credentials)).toMatchObject({ reason: 'rateLimited', message: 'Bedrock is throttling requests (ThrottlingException while answering). Try again shortly.' });
    expect(bedrockFailure(streamException('serviceUnavailableException'), credentials)).toMatchObject({ reason: 'overloaded', message: 'Bedrock is unavailable (ServiceUnavailableException while answering). Try again shortly.' });
    expect(bedrockFailure(streamException('modelStreamErrorException'), credentials)).toBeUndefined();
    // The same names on a response with a status are the shared mapping's to read.
    expect(bedrockFailure({ ...(streamException('throttlingException') as object), status: 500 }, credentials)).toBeUndefined();
    expect(bedrockFailure({ ...(streamException('serviceUnavailableException') as object), status: 503 }, credentials)).toBeUndefined();
  });

  it('leaves to the shared mapping what it already names: a 429 with its retry-after, a 400', () => {
    const throttled = awsError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.');
    expect(bedrockFailure(throttled, credentials)).toBeUndefined();
    (throttled as { headers: Headers }).headers.set('retry-after', '3');
    expect(mapModelError(throttled, (text) => text, { provider: 'bedrock', keySource: credentials })).toMatchObject({ reason: 'rateLimited', retryAfterSeconds: 3 });
    const invalid = awsError(400, 'ValidationException', 'The provided model identifier is invalid.');
    expect(bedrockFailure(invalid, credentials)).toBeUndefined();
    expect(mapModelError(invalid, (text) => text, { provider: 'bedrock', keySource: credentials })).toMatchObject({ reason: 'badRequest', message: expect.stringContaining('The provided model identifier is invalid.') });
    expect(bedrockFailure(new EfritError('stalled', 'quiet'), credentials)).toBeUndefined();
    expect(bedrockFailure(null, credentials)).toBeUndefined();
    expect(bedrockFailure('socket hang up', credentials)).toBeUndefined();
  });
});
