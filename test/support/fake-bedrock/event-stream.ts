/**
 * AWS's binary event-stream framing (`application/vnd.amazon.eventstream`),
 * written from AWS's documentation of the format: each message is
 *
 *   total length (uint32 BE) | headers length (uint32 BE) | prelude CRC32
 *   headers | payload | message CRC32
 *
 * where the prelude CRC covers the first 8 bytes and the message CRC
 * everything before it. A header is a name length (1 byte), the name, a value
 * type (1 byte; 7 is a string), then for a string its length (uint16 BE) and
 * its bytes. Only string headers are written or read here: Bedrock's stream
 * uses no other kind.
 */

const preludeBytes = 8;
const crcBytes = 4;
const stringHeaderType = 7;

const crcTable = ((): Uint32Array => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), the checksum the format uses. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface EventStreamMessage {
  headers: Record<string, string>;
  payload: Buffer;
}

export function encodeMessage(message: EventStreamMessage): Buffer {
  const headerParts: Buffer[] = [];
  for (const [name, value] of Object.entries(message.headers)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
    header.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(header, 1);
    header.writeUInt8(stringHeaderType, 1 + nameBytes.length);
    header.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    valueBytes.copy(header, 4 + nameBytes.length);
    headerParts.push(header);
  }
  const headers = Buffer.concat(headerParts);
  const total = preludeBytes + crcBytes + headers.length + message.payload.length + crcBytes;
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(headers.length, 4);
  frame.writeUInt32BE(crc32(frame.subarray(0, preludeBytes)), preludeBytes);
  headers.copy(frame, preludeBytes + crcBytes);
  message.payload.copy(frame, preludeBytes + crcBytes + headers.length);
  frame.writeUInt32BE(crc32(frame.subarray(0, total - crcBytes)), total - crcBytes);
  return frame;
}

/** Reads whole messages from the front of `bytes`; what is left is an incomplete message. Throws on a checksum that does not match. */
export function decodeMessages(bytes: Buffer): { messages: EventStreamMessage[]; rest: Buffer } {
  const messages: EventStreamMessage[] = [];
  let at = 0;
  while (bytes.length - at >= preludeBytes + crcBytes) {
    const total = bytes.readUInt32BE(at);
    const headersLength = bytes.readUInt32BE(at + 4);
    if (crc32(bytes.subarray(at, at + preludeBytes)) !== bytes.readUInt32BE(at + preludeBytes)) throw new Error('event stream: prelude checksum mismatch');
    if (total < preludeBytes + 2 * crcBytes + headersLength) throw new Error('event stream: a message shorter than its headers');
    if (bytes.length - at < total) break;
    const frame = bytes.subarray(at, at + total);
    if (crc32(frame.subarray(0, total - crcBytes)) !== frame.readUInt32BE(total - crcBytes)) throw new Error('event stream: message checksum mismatch');
    const headers: Record<string, string> = {};
    let position = preludeBytes + crcBytes;
    const headersEnd = position + headersLength;
    while (position < headersEnd) {
      const nameLength = frame.readUInt8(position);
      const name = frame.toString('utf8', position + 1, position + 1 + nameLength);
      const type = frame.readUInt8(position + 1 + nameLength);
      if (type !== stringHeaderType) throw new Error(`event stream: header ${name} has value type ${type}, not a string`);
      const valueLength = frame.readUInt16BE(position + 2 + nameLength);
      headers[name] = frame.toString('utf8', position + 4 + nameLength, position + 4 + nameLength + valueLength);
      position += 4 + nameLength + valueLength;
    }
    messages.push({ headers, payload: Buffer.from(frame.subarray(headersEnd, total - crcBytes)) });
    at += total;
  }
  return { messages, rest: bytes.subarray(at) };
}

/** A `chunk` event of Bedrock's response stream: one model event, base64 in `bytes`, with the random-length `p` padding AWS adds against length analysis. */
export function chunkEvent(event: unknown, padding: string): Buffer {
  const bytes = Buffer.from(JSON.stringify(event), 'utf8').toString('base64');
  return encodeMessage({
    headers: { ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' },
    payload: Buffer.from(JSON.stringify({ bytes, p: padding }), 'utf8'),
  });
}

/** An exception in the middle of the stream, as Bedrock sends one: `:exception-type` is the member name (`throttlingException`). */
export function exceptionEvent(exceptionType: string, message: string): Buffer {
  return encodeMessage({
    headers: { ':exception-type': exceptionType, ':content-type': 'application/json', ':message-type': 'exception' },
    payload: Buffer.from(JSON.stringify({ message }), 'utf8'),
  });
}
