/**
 * Claude on Amazon Bedrock through `@anthropic-ai/bedrock-sdk`, whose client
 * is a subclass of Anthropic's: the request goes out in the Messages shape
 * (cache breakpoints included, since Bedrock caches prompts as Anthropic
 * does), the SDK moves the model id into the path
 * (`/model/{id}/invoke-with-response-stream`), signs the request with SigV4
 * and turns Bedrock's binary event stream back into the Messages events,
 * which the Anthropic provider's code collects.
 *
 * Credentials are AWS's usual chain as the SDK resolves it: the environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then
 * `AWS_PROFILE` with `~/.aws/credentials` and `~/.aws/config` (SSO and roles
 * included), then the container or instance role; or a Bedrock API key in
 * `AWS_BEARER_TOKEN_BEDROCK`. There is no key to pass, so the endpoint
 * carries `signWithAwsCredentials` in its place.
 *
 * AWS answers failures in its own words (`x-amzn-ErrorType`, in-stream
 * exception frames); those that mean something to the user are put in terms
 * of the variables to check here, the rest go to the shared mapping.
 */
import type { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { EfritError } from '../common/errors.js';
import { sdkClientOptions, streamMessages } from './anthropic-provider.js';
import type { ModelProvider, ModelReply, ProviderCall } from './provider.js';

type SdkModule = typeof import('@anthropic-ai/bedrock-sdk');

let sdkModule: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  sdkModule ??= import('@anthropic-ai/bedrock-sdk');
  return sdkModule;
}

/** The Messages API version Bedrock takes for Claude, in the body. */
export const bedrockAnthropicVersion = 'bedrock-2023-05-31';

/** The endpoint's key when there is none: sign with the AWS credential chain. */
export const signWithAwsCredentials = 'efrit-aws-credential-chain';

/** Where AWS secrets come from in the environment: redacted like an API key (the access key id is an identifier, not a secret). */
export const awsSecretVariables = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_BEARER_TOKEN_BEDROCK'] as const;

/** What a missing or refused AWS credential names. */
export const awsCredentialVariables = 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary credentials) or AWS_PROFILE';

export const bedrockProvider: ModelProvider = {
  name: 'bedrock',
  keyVariable: awsCredentialVariables,
  async stream(call: ProviderCall): Promise<ModelReply> {
    const { AnthropicBedrock: BedrockClient } = await loadSdk();
    const client: AnthropicBedrock = new BedrockClient({
      ...sdkClientOptions(call),
      // null, not undefined: the SDK would otherwise read AWS_BEARER_TOKEN_BEDROCK itself, which the endpoint has already decided on.
      apiKey: call.apiKey === signWithAwsCredentials ? null : call.apiKey,
      ...(call.region !== undefined && call.region !== '' ? { awsRegion: call.region } : {}),
      ...(call.baseURL !== undefined && call.baseURL !== '' ? { baseURL: call.baseURL } : {}),
    });
    try {
      // The SDK moves this header into the body's `anthropic_version`; Bedrock documents this value for Claude's Messages API, not the API's dated versions.
      return await streamMessages(client, call, { 'anthropic-version': bedrockAnthropicVersion });
    } catch (error) {
      throw bedrockFailure(error, call.apiKey === signWithAwsCredentials ? awsCredentialVariables : 'AWS_BEARER_TOKEN_BEDROCK') ?? error;
    }
  },
};

interface ErrorShape {
  status?: unknown;
  headers?: unknown;
  /** The Anthropic SDK's `type`: for an in-stream exception frame, its `:exception-type`. */
  type?: unknown;
  message?: unknown;
  name?: unknown;
  cause?: unknown;
  /** The response body: AWS's `{ "message": … }`. */
  error?: unknown;
}

/** Errors AWS names for credentials it does not accept, as opposed to a policy that denies the call. */
const refusedCredentials = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'IncompleteSignatureException', 'ExpiredTokenException', 'MissingAuthenticationTokenException']);

function awsErrorType(headers: unknown): string | undefined {
  if (headers === null || typeof headers !== 'object' || !('get' in headers)) return undefined;
  const raw = (headers as { get(name: string): string | null }).get('x-amzn-errortype');
  // `UnrecognizedClientException:http://internal.amazon.com/coral/…`: the name is before the colon.
  return raw === null ? undefined : raw.split(':')[0];
}

function awsMessage(error: ErrorShape): string {
  const body = typeof error.error === 'object' && error.error !== null ? (error.error as { message?: unknown; Message?: unknown }) : {};
  const text = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
  return text === '' ? '' : ` AWS said: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
}

function isCredentialChainFailure(error: ErrorShape): boolean {
  const cause = typeof error.cause === 'object' && error.cause !== null ? (error.cause as { name?: unknown }) : {};
  return cause.name === 'CredentialsProviderError' || (typeof error.message === 'string' && error.message.startsWith('Failed to resolve AWS credentials'));
}

/** The failures only Bedrock has, put in words a person can act on; undefined for those the shared mapping already names. */
export function bedrockFailure(error: unknown, credentials: string): EfritError | undefined {
  if (typeof error !== 'object' || error === null || error instanceof EfritError) return undefined;
  const shape = error as ErrorShape;
  if (isCredentialChainFailure(shape)) {
    return new EfritError('noApiKey', `No AWS credentials for Bedrock: set ${credentials} in the environment that starts the server (AWS_PROFILE reads ~/.aws/credentials and ~/.aws/config).`);
  }
  if (shape.status === 403) {
    const type = awsErrorType(shape.headers) ?? 'AccessDeniedException';
    if (refusedCredentials.has(type)) return new EfritError('unauthorized', `AWS refused the credentials (403 ${type}). Check ${credentials}.`);
    return new EfritError('forbidden', `AWS denied this call (403 ${type}): the identity ${credentials} selects needs bedrock:InvokeModelWithResponseStream on this model, and the model access granted in this region.${awsMessage(shape)}`);
  }
  if (shape.status === undefined && shape.name === 'APIError') {
    // An exception frame in the middle of the stream: no HTTP status, only its `:exception-type`.
    if (shape.type === 'throttlingException') return new EfritError('rateLimited', 'Bedrock is throttling requests (ThrottlingException while answering). Try again shortly.');
    if (shape.type === 'serviceUnavailableException') return new EfritError('overloaded', 'Bedrock is unavailable (ServiceUnavailableException while answering). Try again shortly.');
  }
  return undefined;
}
