/**
 * Claude on Google Vertex AI through `@anthropic-ai/vertex-sdk`, whose client
 * is the Anthropic client with Vertex's address and Google's OAuth: the
 * request goes out exactly as on Anthropic (cache breakpoints included, so
 * prompt caching works the same) and the stream is collected by the same code
 * (anthropic-provider.ts). What differs is only who says who you are:
 *
 * - Credentials are Google's Application Default Credentials, found as
 *   Google's own tools find them (GOOGLE_APPLICATION_CREDENTIALS, then
 *   gcloud's `application_default_credentials.json`, then a GCE metadata
 *   server), and exchanged for an access token by google-auth-library. The
 *   token lasts an hour, so the library and its credentials are kept across
 *   calls: one exchange serves every call until it is due for renewal.
 * - The exchange is shared by calls, so it goes through the plain network
 *   (proxies, `tls.caFile`), not one call's guarded fetch, and is bounded in
 *   time here; a call waiting for it still ends at once when cancelled.
 * - Failures name what to change: GOOGLE_APPLICATION_CREDENTIALS or
 *   `gcloud auth application-default login`, the region, the project; a token
 *   never appears in an error or a log line.
 *
 * Vertex takes the API version in the body (`anthropic_version`), as its
 * documentation gives it; the SDK would copy its own header's value there, so
 * that header is set to the Vertex version.
 */
import type { AuthClient, GoogleAuth } from 'google-auth-library';
import { EfritError, isEfritError } from '../common/errors.js';
import { SecretRedactor } from '../common/redaction.js';
import { sdkClientOptions, streamMessages } from './anthropic-provider.js';
import { credentialError, credentialVariable, vertexCallError } from './vertex-errors.js';
import type { ModelProvider, ModelReply, ProviderCall, SdkLogger } from './provider.js';

type VertexSdk = typeof import('./vertex-sdk.js');

let sdkModule: Promise<VertexSdk> | undefined;
function loadSdk(): Promise<VertexSdk> {
  sdkModule ??= import('./vertex-sdk.js');
  return sdkModule;
}

/** The `anthropic_version` Vertex AI's documentation gives for Claude. */
export const vertexApiVersion = 'vertex-2023-10-16';
const cloudPlatformScope = 'https://www.googleapis.com/auth/cloud-platform';
/** A token exchange is one small request; past this its endpoint is not answering (the wait for a file or the metadata server included). */
export const tokenTimeoutMs = 30_000;

interface GoogleCredentials {
  /** What they were made for: another project or network makes new ones. */
  projectId: string | undefined;
  network: typeof fetch;
  auth: GoogleAuth;
  /** The current token and the one before: what an error or a log line could echo. Replaced, not grown, as tokens renew. */
  tokens: SecretRedactor;
  lastTokens: string[];
}

let current: GoogleCredentials | undefined;

function googleCredentials(sdk: VertexSdk, call: ProviderCall): GoogleCredentials {
  const network = call.network ?? fetch;
  if (current !== undefined && current.network === network && current.projectId === call.projectId) return current;
  const auth = new sdk.GoogleAuth({
    scopes: cloudPlatformScope,
    // Known, it spares the library's own search (the gcloud CLI, the metadata server).
    ...(call.projectId !== undefined ? { projectId: call.projectId } : {}),
    clientOptions: { transporterOptions: { fetchImplementation: network, timeout: tokenTimeoutMs } },
  });
  current = { projectId: call.projectId, network, auth, tokens: new SecretRedactor(), lastTokens: [] };
  return current;
}

function noteToken(credentials: GoogleCredentials, authorization: string | null): void {
  const token = authorization?.replace(/^Bearer\s+/i, '');
  if (token === undefined || token === '' || credentials.lastTokens.includes(token)) return;
  credentials.lastTokens = [token, ...credentials.lastTokens].slice(0, 2);
  credentials.tokens = new SecretRedactor();
  for (const known of credentials.lastTokens) credentials.tokens.add(known);
}

function redactingLogger(logger: SdkLogger, credentials: GoogleCredentials): SdkLogger {
  const redact = (message: string): string => credentials.tokens.redact(message);
  return {
    error: (message) => logger.error(redact(message)),
    warn: (message) => logger.warn(redact(message)),
    info: (message) => logger.info(redact(message)),
    debug: (message) => logger.debug(redact(message)),
  };
}

interface Authorized {
  authClient: AuthClient;
  projectId: string | undefined;
}

/** The credentials and a fresh enough token, waited for no longer than the call lasts and `tokenTimeoutMs`. */
function authorize(credentials: GoogleCredentials, call: ProviderCall): Promise<Authorized> {
  const work = (async (): Promise<Authorized> => {
    const authClient = await credentials.auth.getClient();
    noteToken(credentials, (await authClient.getRequestHeaders()).get('authorization'));
    // The project the credentials name, found once by the library (a service account's key file holds one).
    const projectId = call.projectId ?? (await credentials.auth.getProjectId().catch(() => undefined));
    return { authClient, projectId };
  })();
  const { signal } = call;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    const timer = setTimeout(
      () => reject(new EfritError('timeout', `No Google access token for Vertex AI after ${tokenTimeoutMs / 1000} s. Check the network (and HTTPS_PROXY) and ${credentialVariable}.`)),
      tokenTimeoutMs,
    );
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
    work
      .then(resolve, (error: unknown) => reject(credentialError(error, tokenTimeoutMs)))
      .finally(() => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      });
  });
}

export const vertexProvider: ModelProvider = {
  name: 'vertex',
  keyVariable: credentialVariable,
  async stream(call: ProviderCall): Promise<ModelReply> {
    const region = call.region;
    if (region === undefined || region === '') {
      throw new EfritError('badRequest', 'No Vertex AI region: set efrit.vertex.region or CLOUD_ML_REGION to a region that serves the model (e.g. us-east5, europe-west1, or global).');
    }
    const sdk = await loadSdk();
    const credentials = googleCredentials(sdk, call);
    const { authClient, projectId } = await authorize(credentials, call);
    if (projectId === undefined) {
      throw new EfritError('badRequest', 'No Google Cloud project for Vertex AI: set efrit.vertex.projectId, ANTHROPIC_VERTEX_PROJECT_ID or GOOGLE_CLOUD_PROJECT.');
    }
    const client = new sdk.AnthropicVertex({
      ...sdkClientOptions({ ...call, sdkLogger: redactingLogger(call.sdkLogger, credentials) }),
      region,
      projectId,
      ...(call.baseURL !== undefined ? { baseURL: call.baseURL } : {}),
      authClient,
      defaultHeaders: { 'anthropic-version': vertexApiVersion },
    });
    try {
      return await streamMessages(client, call);
    } catch (error) {
      if (isEfritError(error) || call.signal.aborted) throw error;
      const mapped = vertexCallError(error, { model: call.model, region, projectId, redact: (text) => credentials.tokens.redact(text) });
      // The next call starts from the credentials again rather than reusing a token Google no longer takes.
      if (mapped.reason === 'unauthorized' && current === credentials) current = undefined;
      throw mapped;
    }
  },
};

