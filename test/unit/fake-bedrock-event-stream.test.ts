import { describe, expect, it } from 'vitest';
import { chunkEvent, crc32, decodeMessages, encodeMessage, exceptionEvent } from '../support/fake-bedrock/event-stream.js';

describe("the fake Bedrock's event-stream framing", () => {
  it('computes CRC-32 as the format specifies (the standard check value)', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('frames a chunk as AWS documents it: lengths, prelude CRC, string headers, payload, message CRC', () => {
    const frame = chunkEvent({ type: 'message_stop' }, 'abc');
    const payload = Buffer.from(JSON.stringify({ bytes: Buffer.from('{"type":"message_stop"}').toString('base64'), p: 'abc' }));
    expect(frame.readUInt32BE(0)).toBe(frame.length);
    expect(frame.readUInt32BE(8)).toBe(crc32(frame.subarray(0, 8)));
    expect(frame.readUInt32BE(frame.length - 4)).toBe(crc32(frame.subarray(0, frame.length - 4)));
    expect(frame.subarray(frame.length - 4 - payload.length, frame.length - 4)).toEqual(payload);
    // ':event-type' is the first header: name length, name, type 7 (string), value length, value.
    expect(frame.readUInt8(12)).toBe(':event-type'.length);
    expect(frame.toString('utf8', 13, 24)).toBe(':event-type');
    expect(frame.readUInt8(24)).toBe(7);
    expect(frame.readUInt16BE(25)).toBe('chunk'.length);
  });

  it('reads back what it writes, message by message, and keeps an incomplete tail for later', () => {
    const first = chunkEvent({ type: 'ping' }, 'p');
    const second = exceptionEvent('throttlingException', 'Too many requests');
    const both = Buffer.concat([first, second]);
    const { messages, rest } = decodeMessages(both.subarray(0, both.length - 5));
    expect(messages).toHaveLength(1);
    expect(messages[0]?.headers).toEqual({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' });
    expect(rest.length).toBe(second.length - 5);
    const whole = decodeMessages(both);
    expect(whole.messages[1]).toEqual({ headers: { ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, payload: Buffer.from('{"message":"Too many requests"}') });
    expect(whole.rest.length).toBe(0);
  });

  it('refuses a frame whose checksum does not match', () => {
    const frame = encodeMessage({ headers: { ':message-type': 'event' }, payload: Buffer.from('{}') });
    const corrupted = Buffer.from(frame);
    corrupted[corrupted.length - 6] = 0x5b;
    expect(() => decodeMessages(corrupted)).toThrow(expect.objectContaining({ message: 'event stream: message checksum mismatch' }));
  });
});
