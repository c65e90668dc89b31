import { describe, expect, it } from 'vitest';
import { Emitter, type Message, type MessageWriter } from 'vscode-languageserver/node';
import { RedactingMessageWriter, SecretRedactor, StreamRedactor } from '../../server/src/common/redaction.js';

const key = 'sk-ant-api03-Zx9_Qm7-k2LpW4vT8yHn';

function redactorFor(...secrets: string[]): SecretRedactor {
  const redactor = new SecretRedactor();
  for (const secret of secrets) redactor.add(secret);
  return redactor;
}

const percent = (text: string, hex: (h: string) => string = (h) => h.toUpperCase()): string =>
  [...Buffer.from(text, 'utf8')].map((byte) => `%${hex(byte.toString(16).padStart(2, '0'))}`).join('');
/** \uXXXX per UTF-16 unit, as JSON writes it (a surrogate pair for a character outside the BMP). */
const jsonUnicode = (text: string): string => text.split('').map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
const htmlDecimal = (text: string): string => [...text].map((c) => `&#${c.codePointAt(0)};`).join('');
const htmlHex = (text: string): string => [...text].map((c) => `&#x${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()};`).join('');
/** Every other character encoded, the rest left as they are. */
const mixed = (text: string, encode: (c: string) => string): string => [...text].map((c, i) => (i % 2 === 0 ? encode(c) : c)).join('');

describe('SecretRedactor', () => {
  const redactor = redactorFor(key);

  it.each([
    ['as written', key],
    ['percent-encoded, upper-case hex', percent(key)],
    ['percent-encoded, lower-case hex', percent(key, (h) => h)],
    ['percent-encoded twice', percent(key).replaceAll('%', '%25')],
    ['as encodeURIComponent leaves it, with some characters encoded', mixed(key, (c) => percent(c))],
    ['JSON \\u-escaped', jsonUnicode(key)],
    ['JSON \\u-escaped in upper-case hex, every other character', mixed(key, (c) => jsonUnicode(c).toUpperCase().replace('\\U', '\\u'))],
    ['JavaScript \\u{…} and \\x escapes', mixed(key, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`).replace('k', '\\x6b')],
    ['HTML decimal references', htmlDecimal(key)],
    ['HTML hex references without the semicolons', htmlHex(key).replaceAll(';', '')],
    ['with leading zeros in references', [...key].map((c) => `&#000${c.codePointAt(0)};`).join('')],
    ['with JSON\'s escaped punctuation', key.replaceAll('-', '\\-')],
  ])('finds the key %s, inside other text', (_how, written) => {
    const text = `Error: invalid header "authorization: Bearer ${written}" (request req_01)`;
    expect(redactor.redact(text)).toBe('Error: invalid header "authorization: Bearer [redacted]" (request req_01)');
  });

  it('leaves text without the key alone, including text that only looks encoded', () => {
    const text = 'if (a && b) return 100% of "C:\\\\temp" &amp; sk-ant-api03-other-key-000';
    expect(redactor.redact(text)).toBe(text);
  });

  it('ignores secrets too short to tell from ordinary words', () => {
    expect(redactorFor('abc1234').redact('abc1234 is a word')).toBe('abc1234 is a word');
  });

  it('redacts every string of a message, keys included, without touching the original', () => {
    const message = {
      jsonrpc: '2.0',
      id: 7,
      result: { reply: `Your key is ${key}.`, usage: { inputTokens: 3 }, notes: ['fine', percent(key)], [key]: true },
    };
    const snapshot = JSON.stringify(message);
    const redacted = redactor.redactDeep(message);
    expect(JSON.stringify(redacted)).toBe(
      JSON.stringify({ jsonrpc: '2.0', id: 7, result: { reply: 'Your key is [redacted].', usage: { inputTokens: 3 }, notes: ['fine', '[redacted]'], '[redacted]': true } }),
    );
    expect(JSON.stringify(message)).toBe(snapshot);
    const clean = { jsonrpc: '2.0', method: 'efrit/stream', params: { text: 'nothing secret' } };
    expect(redactor.redactDeep(clean)).toBe(clean);
  });
});

describe('StreamRedactor', () => {
  const redactor = redactorFor(key);

  /** Pushes `pieces` and returns what was released after each, then at the end. */
  function stream(pieces: string[]): { released: string[]; all: string } {
    const streamed = new StreamRedactor(redactor);
    const released = pieces.map((piece) => streamed.push(piece));
    released.push(streamed.end());
    return { released, all: released.join('') };
  }

  it('releases ordinary text at once', () => {
    expect(stream(['Here is the fix: ', 'rename the parameter.']).released).toEqual(['Here is the fix: ', 'rename the parameter.', '']);
  });

  it('holds back only a tail that could begin the key, until the next piece settles it', () => {
    expect(stream(['I checked the ', 'sk', 'ipped tests.']).released).toEqual(['I checked the ', '', 'skipped tests.', '']);
    expect(stream(['it is 100', '%', ' done']).released).toEqual(['it is 100', '', '% done', '']);
    expect(stream(['Your key is ', 'sk-ant-api03-Zx9', ' (truncated).']).released).toEqual(['Your key is ', '', 'sk-ant-api03-Zx9 (truncated).', '']);
  });

  it.each([
    ['written plainly', key],
    ['percent-encoded', percent(key)],
    ['JSON-escaped', jsonUnicode(key)],
    ['as HTML references', htmlDecimal(key)],
  ])('never releases the key %s, wherever the stream is cut', (_how, written) => {
    const text = `Your key is ${written}. Keep it out of the repository.`;
    const expected = 'Your key is [redacted]. Keep it out of the repository.';
    for (let first = 1; first < text.length; first += 3) {
      for (let second = first + 1; second <= text.length; second += 7) {
        const { released, all } = stream([text.slice(0, first), text.slice(first, second), text.slice(second)]);
        expect(all).toBe(expected);
        for (const piece of released) expect(redactor.redact(piece)).toBe(piece);
      }
    }
  });

  it('releases what it held when the stream ends with only the start of the key', () => {
    expect(stream(['The prefix is ', 'sk-ant-api03']).all).toBe('The prefix is sk-ant-api03');
  });

  it('finds a key whose end begins it again, however the occurrences are cut', () => {
    const bordered = 'sk-ant-0123456789sk';
    const text = `first ${bordered}-ant-0123456789sk and ${bordered}`;
    for (let cut = 1; cut < text.length; cut++) {
      const streamed = new StreamRedactor(redactorFor(bordered));
      const all = streamed.push(text.slice(0, cut)) + streamed.push(text.slice(cut)) + streamed.end();
      expect(all).toBe(redactorFor(bordered).redact(text));
      expect(all).not.toContain(bordered.slice(0, -1));
    }
  });
});

describe('RedactingMessageWriter', () => {
  it('hands the transport every message with the key redacted', async () => {
    const written: Message[] = [];
    const transport: MessageWriter = {
      onError: new Emitter<[Error, Message | undefined, number | undefined]>().event,
      onClose: new Emitter<void>().event,
      write: (message) => {
        written.push(message);
        return Promise.resolve();
      },
      end: () => undefined,
      dispose: () => undefined,
    };
    const writer = new RedactingMessageWriter(transport, redactorFor(key));
    await writer.write({ jsonrpc: '2.0', method: 'window/logMessage', params: { type: 4, message: `key=${percent(key)}` } } as Message);
    expect(written).toEqual([{ jsonrpc: '2.0', method: 'window/logMessage', params: { type: 4, message: 'key=[redacted]' } }]);
  });
});

describe('SecretRedactor with characters outside ASCII', () => {
  const secret = 'clé-€-😀-0123456789';
  const redactor = redactorFor(secret);

  it.each([
    ['as written', secret],
    ['percent-encoded as UTF-8', percent(secret)],
    ['JSON-escaped, a surrogate pair for the emoji', jsonUnicode(secret)],
    ['as HTML references', htmlHex(secret)],
  ])('finds it %s, also streamed in pieces', (_how, written) => {
    const text = `before ${written} after`;
    expect(redactor.redact(text)).toBe('before [redacted] after');
    const streamed = new StreamRedactor(redactor);
    const pieces = text.split('').map((unit) => streamed.push(unit));
    expect(pieces.join('') + streamed.end()).toBe('before [redacted] after');
  });
});
