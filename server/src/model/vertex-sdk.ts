/**
 * What the `vertex` provider loads on its first call, and nothing loads
 * before: the Anthropic Vertex SDK and Google's auth library, bundled together
 * as dist/vertex-sdk.cjs (see scripts/server-bundle.ts), so start-up never
 * reads or compiles them.
 */
export { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
export { GoogleAuth } from 'google-auth-library';
