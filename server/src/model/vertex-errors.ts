/**
 * What a failed Vertex AI call or Google token exchange means, in words a
 * person can act on: which credentials to check (GOOGLE_APPLICATION_CREDENTIALS
 * or `gcloud auth application-default login`), which project or region, and
 * never a token or the text of a key file. Everything else (429 and its
 * backoff, 5xx, the network) is mapped as for every provider (map-error.ts).
 */
import { EfritError } from '../common/errors.js';
import { mapModelError } from './map-error.js';
import { networkFailureIn } from './network.js';

export const credentialVariable = 'GOOGLE_APPLICATION_CREDENTIALS';
const credentialAdvice = `set ${credentialVariable} to a service account key file (JSON), or run \`gcloud auth application-default login\`, in the environment that starts the server`;
const loginAgain = `Check ${credentialVariable}, or run \`gcloud auth application-default login\` again.`;
/** Google's explanations can be long (links, quota names); what is kept is enough to act on. */
const maxDetailChars = 300;

interface ErrorShape {
  status?: unknown;
  config?: unknown;
  error?: unknown;
  message?: unknown;
  code?: unknown;
  name?: unknown;
  response?: { status?: unknown; data?: unknown };
}

function shapeOf(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : {};
}

/** Google's error body: `{"error": {"code": 429, "message": "…", "status": "RESOURCE_EXHAUSTED"}}`. */
function googleStatus(body: unknown): { status: string; message: string } {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  const fields = typeof error === 'object' && error !== null ? (error as { status?: unknown; message?: unknown }) : {};
  return {
    // Stryker disable next-line ConditionalExpression: equivalent, a status that is not a string matches the pattern only if it spells one
    status: typeof fields.status === 'string' && /^[A-Z_]{1,40}$/.test(fields.status) ? fields.status : '',
    message: typeof fields.message === 'string' ? fields.message : '',
  };
}

export interface VertexCallContext {
  /** The model id as Vertex knows it (`claude-sonnet-4-5@20250929`). */
  model: string;
  region: string;
  projectId: string;
  /** Hides the access tokens in use. */
  redact(text: string): string;
}

/** A failed call to Vertex AI (the SDK's error as it came) as one `EfritError`. */
export function vertexCallError(error: unknown, { model, region, projectId, redact }: VertexCallContext): EfritError {
  const shape = shapeOf(error);
  const google = googleStatus(shape.error);
  const said = google.status === '' ? '' : ` ${google.status}`;
  const message = redact(google.message);
  const detail = message === '' ? '' : ` Google said: ${message.length > maxDetailChars ? `${message.slice(0, maxDetailChars)}…` : message}`;
  switch (shape.status) {
    case 401:
      return new EfritError('unauthorized', `Vertex AI refused the Google access token (401${said}). ${loginAgain}`);
    case 403:
      return new EfritError(
        'forbidden',
        `Vertex AI refused this request (403${said}) in project ${projectId}: the account of ${credentialVariable} (or of \`gcloud auth application-default login\`) needs the Vertex AI User role there, and the model must be enabled in Model Garden.${detail}`,
      );
    case 404:
      return new EfritError(
        'badRequest',
        `Vertex AI does not serve ${model} in project ${projectId}, region ${region} (404); check efrit.model (e.g. "vertex:claude-sonnet-4-5@20250929"), efrit.vertex.region and efrit.vertex.projectId.${detail}`,
      );
    default:
      return mapModelError(error, redact, { provider: 'vertex', keySource: credentialVariable });
  }
}

const unreadableFileCodes = ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'];

/**
 * Why no access token could be had. Never the library's own text: a key file
 * that is not JSON is quoted in the parser's message.
 */
export function credentialError(error: unknown, timeoutMs: number): EfritError {
  // Already in words (the error itself), or a proxy or TLS failure the network layer put in words.
  const network = networkFailureIn(error);
  if (network !== undefined) return network;
  const shape = shapeOf(error);
  // Stryker disable next-line StringLiteral: equivalent, no pattern below matches either
  const message = typeof shape.message === 'string' ? shape.message : '';
  if (message.startsWith('Could not load the default credentials')) return new EfritError('noApiKey', `No Google credentials for Vertex AI: ${credentialAdvice}.`);
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, a code that is not a string matches none of the codes or the pattern below
  const code = typeof shape.code === 'string' ? shape.code : '';
  if (unreadableFileCodes.includes(code)) return new EfritError('noApiKey', `${credentialVariable} names a file that cannot be read (${code}): ${credentialAdvice}.`);
  const { response } = shape;
  if (typeof response?.status === 'number') {
    const refused = response.status;
    const data = response.data;
    const oauthError = typeof data === 'object' && data !== null ? (data as { error?: unknown }).error : undefined;
    const named = typeof oauthError === 'string' && /^[a-z_]{1,64}$/.test(oauthError) ? ` ${oauthError}` : '';
    return new EfritError('unauthorized', `Google refused the credentials for a Vertex AI token (${refused}${named}). ${loginAgain}`);
  }
  if (/abort|timeout/i.test(`${String(shape.name)} ${message}`)) {
    return new EfritError('timeout', `Google's token endpoint did not answer within ${timeoutMs / 1000} s. Check the network (and HTTPS_PROXY).`);
  }
  // A request of google-auth-library's that got no answer carries its `config`; a socket's failure, its code.
  if ('config' in shape || /fetch failed/i.test(message) || /^E[A-Z]+$/.test(code)) {
    return new EfritError('network', "Could not reach Google's token endpoint for a Vertex AI token. Check the network (and HTTPS_PROXY), then try again.");
  }
  return new EfritError('noApiKey', `The Google credentials found cannot be used for Vertex AI (not a service account or authorized_user key file that Google's auth library reads): ${credentialAdvice}.`);
}
