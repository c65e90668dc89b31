/**
 * Keeps registered secrets (the API key) out of everything the server says:
 * every message to the client, every log line, stream text split across
 * notifications.
 *
 * A secret is found not only as written but in the encodings text passes
 * through on its way to us — an error body that percent-encodes it, JSON that
 * escapes it, HTML that turns it into character references — character by
 * character, so a key with only some characters encoded is found too. Each
 * secret is read character by character from the few places it could begin
 * (its first character, '%', '\\', '&'); a character's encodings are fixed
 * spellings, so reading never backtracks and stays linear in the text. (One
 * regular expression per secret does the same, but V8 takes tens of
 * milliseconds to compile one for a 100-character key.)
 *
 * Streamed text needs more: a key quoted across two deltas is in neither.
 * `StreamRedactor` holds back only the shortest tail that could still be the
 * start of a secret and releases it as soon as the next piece (or the end)
 * shows it is not, so ordinary text is not delayed.
 */
import type { Message, MessageWriter } from 'vscode-languageserver/node';

export const redactedText = '[redacted]';

/** Very short strings would redact ordinary words; real keys are long. */
const minSecretLength = 8;

/**
 * One token of an encoded character: one of a few characters, a run of
 * leading zeros, or an optional closing ';' (always last).
 */
type Atom = string | typeof zeros | typeof optionalSemicolon;
const zeros = Symbol('leading zeros');
const optionalSemicolon = Symbol('optional ;');

/** One way a character may be written, as the atoms that spell it. */
type Encoding = readonly Atom[];

/** Hex digits of `value`, each accepting either case. */
function hexAtoms(value: number, width = 0): string[] {
  return [...value.toString(16).padStart(width, '0')].map((digit) => (/[a-f]/.test(digit) ? `${digit}${digit.toUpperCase()}` : digit));
}

/** A number with any count of leading zeros (zero itself as '0' then more zeros, so the two never compete). */
function paddedNumberAtoms(digits: string[]): Atom[] {
  return digits.length === 1 && digits[0] === '0' ? ['0', zeros] : [zeros, ...digits];
}

/** Every encoding of one character (a code point) that `SecretRedactor` recognizes. */
function encodingsOf(char: string): Encoding[] {
  const codePoint = char.codePointAt(0) ?? 0;
  // As written, one UTF-16 unit an atom (a character outside the BMP is two).
  const encodings: Encoding[] = [char.split('')];
  // Percent-encoding of its UTF-8 bytes, also encoded twice (%25 is '%').
  const bytes = [...Buffer.from(char, 'utf8')];
  encodings.push(bytes.flatMap((byte) => ['%', ...hexAtoms(byte, 2)]));
  encodings.push(bytes.flatMap((byte) => ['%', '2', '5', ...hexAtoms(byte, 2)]));
  // JSON and JavaScript: \uXXXX per UTF-16 unit, \u{…}, \xXX.
  const units = Array.from({ length: char.length }, (_, i) => char.charCodeAt(i));
  encodings.push(units.flatMap((unit) => ['\\', 'u', ...hexAtoms(unit, 4)]));
  encodings.push(['\\', 'u', '{', ...paddedNumberAtoms(hexAtoms(codePoint)), '}']);
  if (codePoint < 0x100) encodings.push(['\\', 'x', ...hexAtoms(codePoint, 2)]);
  // HTML and XML character references, decimal and hex; browsers accept them without the ';'.
  encodings.push(['&', '#', ...paddedNumberAtoms([...String(codePoint)]), optionalSemicolon]);
  encodings.push(['&', '#', 'xX', ...paddedNumberAtoms(hexAtoms(codePoint)), optionalSemicolon]);
  // A backslash before punctuation: JSON's \/, regex and shell escapes such as \- or \.
  if (/^[!-/:-@[-`{-~]$/.test(char)) encodings.push(['\\', char]);
  return encodings;
}

/** What reading stopped at, besides a position: no match, or the text ended inside one that could still complete. */
const noMatch = -1;
const textEnded = -2;

/**
 * Reads one encoding of a character at `start`: where it ends, `noMatch`, or
 * `textEnded`. A closing ';' is taken when present (a secret whose next
 * character is ';' written right after a reference without one is the one
 * spelling this misses).
 */
function readEncoding(text: string, start: number, encoding: Encoding): number {
  let at = start;
  for (const atom of encoding) {
    if (atom === zeros) {
      while (at < text.length && text[at] === '0') at++;
      if (at === text.length) return textEnded;
    } else if (atom === optionalSemicolon) {
      if (text[at] === ';') at++;
    } else {
      if (at === text.length) return textEnded;
      if (!atom.includes(text[at] as string)) return noMatch;
      at++;
    }
  }
  return at;
}

/** Characters that begin every encoded form. */
const isEncodingMark = (char: string | undefined): boolean => char === '%' || char === '\\' || char === '&';

const escapeForClass = (chars: string): string => chars.replace(/[\\\]^-]/g, '\\$&');

/** An encoding as a regular expression (for the first two characters only: see `CompiledSecret.beginnings`). */
function encodingPattern(encoding: Encoding): string {
  return encoding
    .map((atom) => (atom === zeros ? '0*' : atom === optionalSemicolon ? ';?' : `[${escapeForClass(atom)}]`))
    .join('');
}

class CompiledSecret {
  private readonly chars: string[];
  /** Where an occurrence can begin in a stream's short text: its first character or an encoding mark. */
  private readonly starts: RegExp;
  private encodings: Encoding[][] | undefined;
  private beginningsPattern: RegExp | undefined;

  constructor(readonly literal: string) {
    this.chars = [...literal];
    this.starts = new RegExp(`[${escapeForClass(this.chars[0] ?? '')}%\\\\&]`, 'g');
  }

  /** Built on first use: registering a key at start-up costs nothing until a text with an encoding mark needs it. */
  private encodingsOf(index: number): Encoding[] {
    this.encodings ??= this.chars.map((char) => {
      const forms = encodingsOf(char);
      // The literal spelling last, so '%' in a secret does not stop '%25' from being read as it.
      return [...forms.slice(1), forms[0] as Encoding];
    });
    return this.encodings[index] as Encoding[];
  }

  /**
   * The first two characters in any of their encodings: where a whole
   * occurrence can begin. Far fewer places than every '%', '\\' or '&' of a
   * long text, and a small expression, quick to compile.
   */
  private get beginnings(): RegExp {
    this.beginningsPattern ??= new RegExp(
      [0, 1].map((index) => `(?:${this.encodingsOf(index).map(encodingPattern).join('|')})`).join(''),
      'g',
    );
    return this.beginningsPattern;
  }

  /** Where an occurrence starting at `start` ends, `noMatch`, or `textEnded` when the text ends inside one. */
  read(text: string, start: number): number {
    let at = start;
    for (let index = 0; index < this.chars.length; index++) {
      const char = this.chars[index] as string;
      if (at >= text.length) return textEnded;
      if (!isEncodingMark(text[at])) {
        // The common case, and the only one for most positions: the character as written, or nothing.
        if (!text.startsWith(char, at)) return char.length > 1 && char.startsWith(text.slice(at)) ? textEnded : noMatch;
        at += char.length;
        continue;
      }
      let end = noMatch;
      for (const encoding of this.encodingsOf(index)) {
        end = readEncoding(text, at, encoding);
        if (end !== noMatch) break;
      }
      if (end < 0) return end;
      at = end;
    }
    return at;
  }

  redact(text: string, encoded: boolean): string {
    if (!encoded) return text.includes(this.literal) ? text.split(this.literal).join(redactedText) : text;
    let out = '';
    let copied = 0;
    const beginnings = this.beginnings;
    beginnings.lastIndex = 0;
    for (let found = beginnings.exec(text); found !== null; found = beginnings.exec(text)) {
      const end = this.read(text, found.index);
      if (end < 0) {
        beginnings.lastIndex = found.index + 1;
        continue;
      }
      out += text.slice(copied, found.index) + redactedText;
      copied = end;
      beginnings.lastIndex = end;
    }
    return copied === 0 ? text : out + text.slice(copied);
  }

  /**
   * The earliest start of a tail of `text` that could still grow into an
   * occurrence (or is one touching the end, which a ';' could still lengthen),
   * moved back to the start of an earlier occurrence it lies inside.
   */
  streamCut(text: string): number {
    let lastWhole: { start: number; end: number } | undefined;
    this.starts.lastIndex = 0;
    for (let found = this.starts.exec(text); found !== null; found = this.starts.exec(text)) {
      const at = found.index;
      const end = this.read(text, at);
      if (end === textEnded || end === text.length) return lastWhole !== undefined && lastWhole.end > at ? lastWhole.start : at;
      if (end !== noMatch && (lastWhole === undefined || lastWhole.end <= at)) lastWhole = { start: at, end };
      this.starts.lastIndex = at + 1;
    }
    return text.length;
  }
}

/** Whether `text` has any character an encoded form begins with; without one it can only hold a secret as written. (Three string searches beat one regular expression's scan tenfold on long texts.) */
const hasEncodingMark = (text: string): boolean => text.includes('%') || text.includes('\\') || text.includes('&');

/** Replaces every registered secret, written plainly or encoded, with `[redacted]`. */
export class SecretRedactor {
  private readonly secrets = new Map<string, CompiledSecret>();

  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < minSecretLength || this.secrets.has(secret)) return;
    this.secrets.set(secret, new CompiledSecret(secret));
  }

  get empty(): boolean {
    return this.secrets.size === 0;
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    const encoded = hasEncodingMark(text);
    let out = text;
    for (const secret of this.secrets.values()) out = secret.redact(out, encoded);
    return out;
  }

  /**
   * Where a stream's text may be cut: everything before the cut can be shown
   * (redacted), the rest must wait for more. The cut is at the start of the
   * earliest tail that could still grow into a secret (or into a longer
   * occurrence), and never inside an occurrence. `text.length` when nothing
   * needs to wait.
   */
  streamCut(text: string): number {
    let cut = text.length;
    for (const secret of this.secrets.values()) cut = Math.min(cut, secret.streamCut(text));
    return cut;
  }

  /** `value` with every string in it (keys too) redacted, as JSON.stringify would see it; `value` itself when nothing changed. */
  redactDeep<T>(value: T): T {
    return this.secrets.size === 0 ? value : (this.walk(value) as T);
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (typeof value !== 'object' || value === null) return value;
    const json = (value as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') return this.walk((json as () => unknown).call(value));
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const redacted = this.walk(item);
        if (redacted !== item) (copy ??= value.slice())[i] = redacted;
      }
      return copy ?? value;
    }
    const record = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(record)) {
      const item = record[key];
      const redacted = this.walk(item);
      const redactedKey = this.redact(key);
      if (redacted === item && redactedKey === key) continue;
      copy ??= { ...record };
      if (redactedKey !== key) delete copy[key];
      copy[redactedKey] = redacted;
    }
    return copy ?? value;
  }
}

/**
 * One stream of text (a job's streamed answer) on its way out: each piece
 * comes back redacted, minus a tail that could still be the start of a secret,
 * which is held until the next piece or `end()` settles it.
 */
export class StreamRedactor {
  private held = '';

  constructor(private readonly redactor: SecretRedactor) {}

  /** The next piece of the stream; returns what may be shown now. */
  push(piece: string): string {
    if (this.redactor.empty) return piece;
    const text = this.held + piece;
    const cut = this.redactor.streamCut(text);
    this.held = text.slice(cut);
    return this.redactor.redact(text.slice(0, cut));
  }

  /** The stream ended: what was held cannot grow any more. */
  end(): string {
    const rest = this.redactor.redact(this.held);
    this.held = '';
    return rest;
  }
}

/**
 * The one door out to the client: every message the connection writes
 * (results, errors, notifications, requests, log and progress messages) has
 * its strings redacted before it is serialized.
 */
export class RedactingMessageWriter implements MessageWriter {
  constructor(
    private readonly inner: MessageWriter,
    private readonly redactor: SecretRedactor,
  ) {}

  get onError(): MessageWriter['onError'] {
    return this.inner.onError;
  }

  get onClose(): MessageWriter['onClose'] {
    return this.inner.onClose;
  }

  write(message: Message): Promise<void> {
    return this.inner.write(this.redactor.redactDeep(message));
  }

  end(): void {
    this.inner.end();
  }

  dispose(): void {
    this.inner.dispose();
  }
}
