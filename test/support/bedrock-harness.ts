/**
 * The real server as a child process whose `model` is a `bedrock:` model,
 * with `bedrock.baseURL` at the fake Bedrock runtime on loopback (the real
 * `@anthropic-ai/bedrock-sdk` signs and talks to it). The AWS environment is
 * cleared and HOME points at an empty folder, so only what a test gives is a
 * credential, and the credential chain never reaches for an instance role.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeBedrock, type FakeBedrock, type FakeBedrockOptions } from './fake-bedrock/server.js';
import type { AwsTestCredentials } from './fake-bedrock/sigv4.js';
import { TestClient, type TestClientOptions } from './lsp-client.js';

/** Shaped like real ones (AWS's documentation examples), so a leak is found by grepping for them. */
export const testAwsCredentials: Required<AwsTestCredentials> = {
  accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLEtestSessionToken0123456789abcdefghijklmnopqrstuvwxyzSESSION',
};
export const bedrockModelId = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
export const bedrockModel = `bedrock:${bedrockModelId}`;
export const testRegion = 'eu-central-1';

/** Every variable the AWS credential chain or the Bedrock SDK reads, cleared unless a test sets it. */
const clearedAwsEnvironment: Record<string, undefined> = Object.fromEntries(
  [
    'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_CONFIG_FILE',
    'AWS_SHARED_CREDENTIALS_FILE', 'AWS_BEARER_TOKEN_BEDROCK', 'ANTHROPIC_BEDROCK_BASE_URL', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  ].map((name) => [name, undefined]),
);

export interface BedrockHarness {
  fake: FakeBedrock;
  client: TestClient;
  /** The empty HOME the server runs with; a test may write ~/.aws files in it before starting. */
  home: string;
  stop(): Promise<void>;
}

export interface BedrockHarnessOptions extends TestClientOptions {
  fake?: Partial<FakeBedrockOptions>;
  /** The environment's AWS credentials: the test ones, or none (null). */
  credentials?: AwsTestCredentials | null;
  settings?: Record<string, unknown>;
  /** Prepares HOME before the server starts (e.g. writes ~/.aws/credentials). */
  prepareHome?: (home: string) => Promise<void>;
}

export async function startBedrockHarness(options: BedrockHarnessOptions = {}): Promise<BedrockHarness> {
  const fake = await startFakeBedrock({ credentials: testAwsCredentials, region: testRegion, ...options.fake });
  const home = await mkdtemp(join(tmpdir(), 'efrit-bedrock-home-'));
  await options.prepareHome?.(home);
  const credentials = options.credentials === null ? undefined : (options.credentials ?? testAwsCredentials);
  const client = await TestClient.start({
    ...options,
    initializationOptions: {
      model: bedrockModel,
      fastModel: bedrockModel,
      ...options.settings,
      bedrock: { region: testRegion, baseURL: fake.url, ...(options.settings?.['bedrock'] as object | undefined) },
    },
    env: {
      ...clearedAwsEnvironment,
      HOME: home,
      USERPROFILE: home,
      // No instance role to look for: the chain would otherwise ask 169.254.169.254, which is not loopback.
      AWS_EC2_METADATA_DISABLED: 'true',
      ...(credentials === undefined
        ? {}
        : { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_SESSION_TOKEN: credentials.sessionToken }),
      ...options.env,
    },
  });
  return {
    fake,
    client,
    home,
    async stop() {
      await client.stop();
      await fake.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
