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
 * exception frames); bedrock-errors.ts puts those that mean something to the
 * user in terms of the variables to check, the rest go to the shared mapping.
 */
import type { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { sdkClientOptions, streamMessages } from './anthropic-provider.js';
import { bedrockFailure } from './bedrock-errors.js';
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
