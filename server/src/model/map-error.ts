/**
 * Every way a model call can fail, turned into one `EfritError` with a message
 * a person can act on. Works by duck typing on the SDK's error shape (status,
 * headers, apiMessage) so the SDK need not be loaded to classify its errors.
 */
import { EfritError, isEfritError } from '../common/errors.js';
import type { ProviderName } from './model-choice.js';
import { networkFailureIn } from './network.js';

interface ApiErrorShape {
  status?: unknown;
  headers?: unknown;
  /** The Anthropic SDK's reading of the error body. */
  apiMessage?: unknown;
  /** The OpenAI SDK's: the body's `error` object. */
  error?: unknown;
  message?: unknown;
  name?: unknown;
}

function retryAfterSeconds(headers: unknown): number | undefined {
  if (headers === null || typeof headers !== 'object' || !('get' in headers)) return undefined;
  const get = (headers as { get(name: string): string | null }).get.bind(headers);
  const millis = Number(get('retry-after-ms'));
  if (Number.isFinite(millis) && millis > 0) return millis / 1000;
  const raw = get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The API's own explanation, redacted before it is shortened: a cut must not leave part of a secret behind. */
function apiDetail(error: ApiErrorShape, redact: (text: string) => string): string {
  const body = typeof error.error === 'object' && error.error !== null ? (error.error as { message?: unknown }) : {};
  const raw = typeof error.apiMessage === 'string' ? error.apiMessage : typeof body.message === 'string' ? body.message : '';
  const text = redact(raw);
  return text === '' ? '' : ` The API said: ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
}

/** Which provider failed, to name its settings: the variable its key came from, its endpoint setting. */
export interface ErrorContext {
  provider: ProviderName;
  /** The environment variable the key came from. */
  keySource: string;
}

const anthropicContext: ErrorContext = { provider: 'anthropic', keySource: 'ANTHROPIC_API_KEY' };

function keyAdvice({ provider, keySource }: ErrorContext): string {
  return provider === 'anthropic' && keySource === anthropicContext.keySource ? 'Check ANTHROPIC_API_KEY or the efrit.apiKey setting.' : `Check ${keySource}.`;
}

const endpointSetting: Record<ProviderName, string> = { anthropic: 'efrit.baseURL', openai: 'efrit.openai.baseURL', ollama: 'efrit.ollama.baseURL', bedrock: 'efrit.bedrock.region (or efrit.bedrock.baseURL)', vertex: 'efrit.vertex.baseURL' };

/** `redact` hides secrets (the key the request carried) in what the API echoed back. */
export function mapModelError(error: unknown, redact: (text: string) => string = (text) => text, context: ErrorContext = anthropicContext): EfritError {
  if (isEfritError(error)) return error;
  // A proxy or TLS failure, already put in words by the network layer, arrives wrapped in the SDK's connection error.
  const networkFailure = networkFailureIn(error);
  if (networkFailure !== undefined) return networkFailure;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ApiErrorShape;
  const status = typeof shape.status === 'number' ? shape.status : undefined;
  const wait = retryAfterSeconds(shape.headers);
  const waitText = wait === undefined ? '' : ` It asked to wait ${Math.ceil(wait)} s.`;
  switch (status) {
    case 400:
    case 413:
    case 422:
      return new EfritError('badRequest', `The API rejected the request (${status}).${apiDetail(shape, redact)}`);
    case 401:
      return new EfritError('unauthorized', `The API refused the key (401). ${keyAdvice(context)}`);
    case 402:
    case 403:
      return new EfritError('forbidden', `The API refused this request for the key's account (${status}).${apiDetail(shape, redact)}`);
    case 404:
      return new EfritError('badRequest', `The API does not know this model or endpoint (404); check efrit.model and ${endpointSetting[context.provider]}.${apiDetail(shape, redact)}`);
    case 429:
      return new EfritError('rateLimited', `The API is rate limiting requests (429).${waitText} Try again shortly.`, wait);
    case 529:
      return new EfritError('overloaded', `The API is overloaded (529).${waitText} Try again shortly.`, wait);
    default:
      break;
  }
  if (status !== undefined && status >= 500) {
    return new EfritError('apiError', `The API failed with ${status}.${apiDetail(shape, redact)} Try again shortly.`, wait);
  }
  if (status !== undefined) {
    return new EfritError('apiError', `The API answered ${status}.${apiDetail(shape, redact)}`);
  }
  const name = typeof shape.name === 'string' ? shape.name : '';
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  if (name === 'SyntaxError') {
    return new EfritError('apiError', 'The API sent a malformed stream event; the answer was discarded. Try again.');
  }
  if (name === 'APIConnectionTimeoutError') {
    return new EfritError('timeout', `The API did not start answering in time. Check the network or ${endpointSetting[context.provider]}.`);
  }
  if (name === 'APIError' && /overloaded/i.test(message)) {
    // An `event: error` in the middle of a stream carries no HTTP status.
    return new EfritError('overloaded', 'The API became overloaded while answering. Try again shortly.');
  }
  if (name === 'APIError') {
    return new EfritError('apiError', `The API reported an error while answering. Try again.`);
  }
  return new EfritError('network', `Could not reach the API or the connection dropped. Check the network or ${endpointSetting[context.provider]}, then try again.`);
}
