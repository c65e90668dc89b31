/**
 * The real server as a child process whose `model` is a `vertex:` model,
 * pointed at the fake Vertex AI endpoint on loopback, with Google credentials
 * of its own: a service account key file (a throwaway RSA key made here) or
 * gcloud's `application_default_credentials.json` of an `authorized_user`.
 * The real Vertex SDK and google-auth-library do a real token exchange with
 * the fake OAuth endpoint, reached as on a corporate network: through the
 * proxy in HTTPS_PROXY, over TLS signed by the CA in `tls.caFile`.
 *
 * Nothing can leave the machine: the proxy serves only the token endpoint
 * (and records any other host asked for), the metadata server is switched off
 * (METADATA_SERVER_DETECTION=none) and pointed at a closed loopback port, and
 * the Anthropic side has no key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleOAuthEndpoint, googleTokenHost, googleTokenUrl, startGoogleRoute, type GoogleRoute } from './fake-vertex/google-oauth.js';
import { startFakeVertex, type FakeVertex } from './fake-vertex/server.js';
import { TestClient, type TestClientOptions } from './lsp-client.js';
import { makeTestCertificates, type TestCertificates } from './tls-gateway.js';

export const vertexModel = 'vertex:claude-sonnet-4-5@20250929';
export const vertexProject = 'efrit-test-project';
export const vertexRegion = 'us-east5';
const serviceAccountEmail = `efrit-tests@${vertexProject}.iam.gserviceaccount.com`;
const authorizedUser = { clientId: '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com', clientSecret: 'd-FL95Q19q7MQmFpd7hHD0Ty', refreshToken: `1//0g${randomBytes(36).toString('base64url')}` };

export interface VertexHarness {
  fake: FakeVertex;
  oauth: GoogleOAuthEndpoint;
  route: GoogleRoute;
  client: TestClient;
  /** The service account's private key, to check it never leaks. */
  privateKey: string;
  stop(): Promise<void>;
}

export interface VertexHarnessOptions extends TestClientOptions {
  /** Which Application Default Credentials the server finds. @default 'service-account' */
  credentials?: 'service-account' | 'authorized-user' | 'none';
  settings?: Record<string, unknown>;
}

export async function startVertexHarness(options: VertexHarnessOptions = {}): Promise<VertexHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'efrit-vertex-'));
  const certificates: TestCertificates = await makeTestCertificates(`DNS:${googleTokenHost}`);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const oauth = new GoogleOAuthEndpoint([{ clientEmail: serviceAccountEmail, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }], [authorizedUser]);
  const route = await startGoogleRoute(oauth, certificates);
  const fake = await startFakeVertex({ oauth, projectId: vertexProject, regions: [vertexRegion, 'global'] });

  const gcloudConfig = join(dir, 'gcloud');
  await mkdir(gcloudConfig, { recursive: true });
  const serviceAccountFile = join(dir, 'service-account.json');
  await writeFile(
    serviceAccountFile,
    JSON.stringify({
      type: 'service_account',
      project_id: vertexProject,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKeyPem,
      client_email: serviceAccountEmail,
      client_id: '104725139488123456789',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: googleTokenUrl,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      universe_domain: 'googleapis.com',
    }),
  );
  if (options.credentials === 'authorized-user') {
    await writeFile(
      join(gcloudConfig, 'application_default_credentials.json'),
      JSON.stringify({ type: 'authorized_user', client_id: authorizedUser.clientId, client_secret: authorizedUser.clientSecret, refresh_token: authorizedUser.refreshToken }),
    );
  }
  const settings = options.settings ?? {};
  const client = await TestClient.start({
    ...options,
    initializationOptions: {
      model: vertexModel,
      fastModel: vertexModel,
      ...settings,
      vertex: { region: vertexRegion, projectId: vertexProject, baseURL: fake.baseURL, ...(settings['vertex'] as object | undefined) },
      tls: { caFile: certificates.caFile, ...(settings['tls'] as object | undefined) },
    },
    env: {
      GOOGLE_APPLICATION_CREDENTIALS: options.credentials === undefined || options.credentials === 'service-account' ? serviceAccountFile : undefined,
      CLOUDSDK_CONFIG: gcloudConfig,
      HTTPS_PROXY: route.proxyUrl,
      NO_PROXY: '127.0.0.1,localhost',
      METADATA_SERVER_DETECTION: 'none',
      GCE_METADATA_HOST: '127.0.0.1:9',
      GCE_METADATA_IP: '127.0.0.1:9',
      CLOUD_ML_REGION: undefined,
      GOOGLE_CLOUD_PROJECT: undefined,
      GCLOUD_PROJECT: undefined,
      ANTHROPIC_VERTEX_PROJECT_ID: undefined,
      ANTHROPIC_VERTEX_BASE_URL: undefined,
      GOOGLE_CLOUD_QUOTA_PROJECT: undefined,
      ...options.env,
    },
  });
  return {
    fake,
    oauth,
    route,
    client,
    privateKey: privateKeyPem,
    async stop() {
      await client.stop();
      await fake.close();
      await route.close();
      await certificates.remove();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
