/**
 * The failures only Bedrock has, in words a person can act on. AWS names its
 * errors in `x-amzn-ErrorType` (the body is only `{ "message" }`), sends
 * exceptions as frames inside a stream that has already answered 200, and the
 * SDK reports a credential chain that found nothing as a connection error.
 * What the shared mapping (map-error.ts) already names well, a 429 with its
 * `retry-after`, a 400, a 5xx, is left to it. Duck typing on the SDK's error
 * shape, so the SDK need not be loaded to classify its errors.
 */
import { EfritError } from '../common/errors.js';
import { isRecord } from '../common/json-shape.js';

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
const maxQuotedChars = 300;

/** `UnrecognizedClientException:http://internal.amazon.com/coral/…`: the name is before the colon. */
function awsErrorType(headers: unknown): string | undefined {
  return headers instanceof Headers ? headers.get('x-amzn-errortype')?.split(':')[0] : undefined;
}

function awsSaid(body: unknown): string {
  const text = isRecord(body) && typeof body['message'] === 'string' ? body['message'] : '';
  return text === '' ? '' : ` AWS said: ${text.length > maxQuotedChars ? `${text.slice(0, maxQuotedChars)}…` : text}`;
}

function isCredentialChainFailure(error: ErrorShape): boolean {
  return (isRecord(error.cause) && error.cause['name'] === 'CredentialsProviderError') || (typeof error.message === 'string' && error.message.startsWith('Failed to resolve AWS credentials'));
}

/**
 * The Bedrock failure `error` is, named for a person, or undefined for one the
 * shared mapping names. `credentials` is what to check: the AWS variables, or
 * `AWS_BEARER_TOKEN_BEDROCK` when a Bedrock API key was used.
 */
export function bedrockFailure(error: unknown, credentials: string): EfritError | undefined {
  if (!isRecord(error)) return undefined;
  const shape = error as ErrorShape;
  if (isCredentialChainFailure(shape)) {
    return new EfritError('noApiKey', `No AWS credentials for Bedrock: set ${credentials} in the environment that starts the server (AWS_PROFILE reads ~/.aws/credentials and ~/.aws/config).`);
  }
  if (shape.status === 403) {
    const type = awsErrorType(shape.headers) ?? 'AccessDeniedException';
    if (refusedCredentials.has(type)) return new EfritError('unauthorized', `AWS refused the credentials (403 ${type}). Check ${credentials}.`);
    return new EfritError('forbidden', `AWS denied this call (403 ${type}): the identity ${credentials} selects needs bedrock:InvokeModelWithResponseStream on this model, and the model access granted in this region.${awsSaid(shape.error)}`);
  }
  // An exception frame in the middle of the stream: no HTTP status, only its `:exception-type`.
  if (shape.status === undefined && shape.type === 'throttlingException') return new EfritError('rateLimited', 'Bedrock is throttling requests (ThrottlingException while answering). Try again shortly.');
  if (shape.status === undefined && shape.type === 'serviceUnavailableException') return new EfritError('overloaded', 'Bedrock is unavailable (ServiceUnavailableException while answering). Try again shortly.');
  return undefined;
}
