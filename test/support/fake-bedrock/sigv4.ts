/**
 * Checks an AWS Signature Version 4 `Authorization` header the way AWS does,
 * written from AWS's documentation ("Create a signed AWS API request"):
 * rebuild the canonical request from what arrived (method, the path's
 * segments URI-encoded once more as every service but S3 wants, the sorted
 * query, the signed headers, the body's SHA-256), the string to sign with the
 * credential scope, and the HMAC chain from the secret key; then compare.
 * Written independently of the SDK's signer, so the fake checks it rather
 * than agreeing with itself.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface AwsTestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ArrivedRequest {
  method: string;
  /** The path and query as on the wire (still percent-encoded). */
  rawUrl: string;
  /** Lower-cased names, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type SignatureCheck =
  | { ok: true; accessKeyId: string; region: string; service: string }
  /** What AWS answers, by `x-amzn-ErrorType`. */
  | { ok: false; errorType: 'MissingAuthenticationTokenException' | 'IncompleteSignatureException' | 'UnrecognizedClientException' | 'InvalidSignatureException'; message: string };

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEncode(segment));
  }
  return `/${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
}

function canonicalQuery(rawQuery: string): string {
  const params = new URLSearchParams(rawQuery);
  return [...params.entries()]
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function headerValue(headers: ArrivedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function checkSignature(request: ArrivedRequest, credentials: AwsTestCredentials, expected: { region: string; service: string }): SignatureCheck {
  const authorization = headerValue(request.headers, 'authorization');
  if (authorization === undefined) return { ok: false, errorType: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (match === null || amzDate === undefined) {
    return { ok: false, errorType: 'IncompleteSignatureException', message: `Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and an 'X-Amz-Date' header.` };
  }
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaderList = '', signature = ''] = match;
  if (accessKeyId !== credentials.accessKeyId) return { ok: false, errorType: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (credentials.sessionToken !== undefined && headerValue(request.headers, 'x-amz-security-token') !== credentials.sessionToken) {
    return { ok: false, errorType: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  }
  if (region !== expected.region || service !== expected.service) {
    return { ok: false, errorType: 'InvalidSignatureException', message: `Credential should be scoped to a valid region and service '${expected.service}' in '${expected.region}', not '${service}' in '${region}'.` };
  }
  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host') || !amzDate.startsWith(date)) {
    return { ok: false, errorType: 'IncompleteSignatureException', message: "'Host' and the date must be signed, and X-Amz-Date must match the credential's date." };
  }
  const queryAt = request.rawUrl.indexOf('?');
  const rawPath = queryAt < 0 ? request.rawUrl : request.rawUrl.slice(0, queryAt);
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(rawPath),
    canonicalQuery(queryAt < 0 ? '' : request.rawUrl.slice(queryAt + 1)),
    signedHeaders.map((name) => `${name}:${(headerValue(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join(''),
    signedHeaderList,
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service), 'aws4_request');
  const computed = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(computed, Buffer.from(signature, 'hex'))) {
    return {
      ok: false,
      errorType: 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  }
  return { ok: true, accessKeyId, region, service };
}
