/**
 * fast-check arbitraries for what a confused, buggy or hostile LSP client may
 * send efrit-lsp: anything at all, and objects of the right shape with wrong
 * values in them (wrong types, negative, huge and NaN-like numbers, positions
 * past the end, ranges that end before they start, unknown URIs, strings with
 * lone surrogates, very long strings).
 *
 * A few values cannot be known when the case is generated; they are written
 * as placeholders and filled in just before sending (see `Placeholder`).
 */
import fc from 'fast-check';
import { allCommands, BuiltinActions } from '../../server/src/protocol.js';
import { settingsSchema } from '../../server/src/settings/config.js';

/** Filled in at send time: the open sample document, a session or a job the server really has. */
export const Placeholder = {
  goodUri: '\u0000GOOD_URI',
  sessionId: '\u0000SESSION_ID',
  jobId: '\u0000JOB_ID',
} as const;

/** The sample document the fuzzer keeps (re)opening, so shaped cases reach past "not open". */
export const goodText = [
  'export interface Item {',
  '  name: string;',
  '  stock: number;',
  '}',
  '',
  'export function restock(item: Item, amount: number): Item {',
  '  return { ...item, stock: item.stock + amount };',
  '}',
  '',
  '// café ☕ — non-ASCII on the last line 😀',
  '',
].join('\n');

const long100k = 'x'.repeat(100_000);
const long1m = `${'long line '.repeat(100_000)}`;
const longSurrogates = '\ud800a\udc00'.repeat(20_000);

export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));

/** One "character": any code point, a lone surrogate, or a line break of some kind. */
const anyUnit = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: fc.constantFrom('\n', '\r\n', '\r', '\u2028', '\u0000', '"', '\\') },
);

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: anyUnit, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', '\ud800', 'a\udfffb', '\udbff\udbff', '\udc00\ud800', '\u0000', 'null', '0', '-1', '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.constantFrom(long100k, long1m, longSurrogates) },
);

export const weirdNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 40 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      -1,
      -0,
      0.5,
      1.5,
      -2.5,
      2 ** 31,
      2 ** 31 - 1,
      2 ** 32,
      2 ** 53,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER + 2,
      -Number.MAX_SAFE_INTEGER,
      1e308,
      -1e308,
      Number.MIN_VALUE,
      Number.EPSILON,
      // Not representable in JSON: they go out as null.
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ),
  },
  { weight: 1, arbitrary: fc.double() },
);

export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  maxDepth: 3,
  maxKeys: 6,
  stringUnit: anyUnit,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  key: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'uri', 'range', 'textDocument', 'message', 'sessionId', 'jobId', 'start', 'end', 'line', 'character', 'version'),
  ),
});

/**
 * JSON objects that throw when JavaScript compares, adds or prints them:
 * `valueOf` and `toString` are ordinary keys in JSON, and a number or a
 * string there makes `a > b` or `${a}` raise "Cannot convert object to
 * primitive value".
 */
export const hostileObject: fc.Arbitrary<unknown> = fc.constantFrom(
  { valueOf: 1, toString: 2 },
  { valueOf: 'x' },
  { toString: null, valueOf: null },
  { toJSON: 'x', valueOf: {}, toString: [] },
  { line: { valueOf: 1, toString: 2 }, character: 0 },
  { uri: { toString: 1 } },
);

/** A value of the wrong type for almost any field. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileObject,
  weirdNumber,
  weirdString,
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  // Fresh instances: fc.constant would hand out one shared object to every case.
  fc.array(fc.nat(), { maxLength: 0 }),
  fc.record({}),
  anyValue,
);

/** Mostly the value, sometimes something of the wrong type. */
function usually<T>(arbitrary: fc.Arbitrary<T>, weight = 4): fc.Arbitrary<unknown> {
  return fc.oneof({ weight, arbitrary }, { weight: 1, arbitrary: wrongValue });
}

const lineNumber = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 2, arbitrary: weirdNumber });
const characterNumber = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 70 }) }, { weight: 2, arbitrary: weirdNumber });

export const position = usually(fc.record({ line: usually(lineNumber, 6), character: usually(characterNumber, 6) }, { requiredKeys: [] }));

/** Inside the sample, past it, backwards, half missing, or not a range at all. */
export const range: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ start: position, end: position }, { requiredKeys: [] }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 20 }))
      .map(([l1, c1, l2, c2]) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { start: { line: 5, character: 3 }, end: { line: 2, character: 0 } },
      { start: { line: 0, character: 9 }, end: { line: 0, character: 2 } },
      { start: { line: 0, character: 0 }, end: { line: 99_999, character: 0 } },
      { start: { line: 10, character: 0 }, end: { line: 11, character: 0 } },
      { start: { line: 11, character: 0 }, end: { line: 11, character: 0 } },
      { start: { line: 11, character: 1 }, end: { line: 11, character: 1 } },
      { start: { line: -1, character: -1 }, end: { line: -1, character: -1 } },
      { start: { line: 0.5, character: 0 }, end: { line: 1, character: 0 } },
      { start: { line: Number.MAX_SAFE_INTEGER, character: 0 }, end: { line: Number.MAX_SAFE_INTEGER, character: 1e308 } },
      { start: { line: '0', character: '0' }, end: { line: '1', character: '0' } },
      { start: null, end: null },
      { start: { line: 0, character: 0 } },
    ),
  },
  { weight: 1, arbitrary: wrongValue },
);

export const uri: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(Placeholder.goodUri) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'file:///work/fuzz/a.ts',
      'file:///work/fuzz/b.ts',
      'untitled:Untitled-1',
      'file:///%ZZ/bad-escape.ts',
      'file:///work/fuzz/\ud800lone.ts',
      'file://',
      'not a uri at all',
      'http://example.com/x.ts',
      '',
      `file:///work/fuzz/${'deep/'.repeat(2000)}x.ts`,
    ),
  },
  { weight: 1, arbitrary: wrongValue },
);

export const textDocumentRef = usually(fc.record({ uri }, { requiredKeys: [] }));

const diagnostic = usually(
  fc.record(
    {
      range,
      message: usually(weirdString),
      severity: usually(fc.integer({ min: 1, max: 4 })),
      source: usually(weirdString),
      code: usually(fc.oneof(weirdString, weirdNumber)),
    },
    { requiredKeys: ['range', 'message'] },
  ),
);

export const diagnostics = usually(fc.array(diagnostic, { maxLength: 4 }));

const actionId = usually(fc.oneof(fc.constantFrom(...Object.values(BuiltinActions), 'no-such-action', ''), weirdString), 5);
const sessionId = usually(fc.oneof({ weight: 2, arbitrary: fc.constant(Placeholder.sessionId) }, { weight: 1, arbitrary: weirdString }));
const jobId = usually(fc.oneof({ weight: 2, arbitrary: fc.constant(Placeholder.jobId) }, { weight: 1, arbitrary: weirdString }));
/** A message a model call is made for, or a bad one. */
const message = usually(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('Why?', 'Explain this.', 'ok?') }, { weight: 2, arbitrary: weirdString }));

const runActionArgs = fc.record(
  { actionId, textDocument: textDocumentRef, range, instruction: usually(weirdString), diagnostics },
  { requiredKeys: ['actionId', 'textDocument', 'range'] },
);
const chatParams = fc.record({ sessionId, message, textDocument: textDocumentRef, range }, { requiredKeys: ['message'] });
const doParams = fc.record(
  { instruction: message, textDocument: textDocumentRef, range, sessionId, apply: usually(fc.boolean()) },
  { requiredKeys: ['instruction', 'textDocument'] },
);
const cancelParams = fc.record({ jobId, sessionId }, { requiredKeys: [] });

const commandArgument: Record<string, fc.Arbitrary<unknown>> = {
  'efrit.runAction': runActionArgs,
  'efrit.applyJob': fc.record({ jobId }, { requiredKeys: [] }),
  'efrit.chat': chatParams,
  'efrit.do': doParams,
  'efrit.cancel': cancelParams,
  'efrit.status': anyValue,
};

const executeCommandParams = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom(...allCommands).chain((command) =>
      fc.record(
        {
          command: fc.constant(command),
          arguments: usually(fc.array(usually(commandArgument[command] ?? anyValue, 6), { minLength: 1, maxLength: 2 })),
          workDoneToken: usually(fc.oneof(weirdString, weirdNumber)),
        },
        { requiredKeys: ['command'] },
      ),
    ),
  },
  { weight: 1, arbitrary: fc.record({ command: wrongValue, arguments: wrongValue }, { requiredKeys: [] }) },
);

const codeActionParams = fc.record(
  {
    textDocument: textDocumentRef,
    range,
    context: usually(fc.record({ diagnostics, only: usually(fc.array(fc.oneof(weirdString, fc.constantFrom('quickfix', 'refactor', 'refactor.rewrite', '')), { maxLength: 3 })), triggerKind: usually(fc.integer({ min: 1, max: 2 })) }, { requiredKeys: ['diagnostics'] })),
  },
  { requiredKeys: ['textDocument', 'range', 'context'] },
);

const resolveParams = fc.record(
  {
    title: usually(weirdString),
    kind: usually(weirdString),
    diagnostics,
    data: usually(fc.record({ efrit: usually(fc.constantFrom(1, 2, '1', 0)), actionId, uri, range }, { requiredKeys: [] })),
    edit: wrongValue,
    command: wrongValue,
  },
  { requiredKeys: ['title', 'data'] },
);

/** Objects of the right shape with wrong values all through them. */
const shapedParams: Record<string, fc.Arbitrary<unknown>> = {
  'textDocument/codeAction': codeActionParams,
  'codeAction/resolve': resolveParams,
  'workspace/executeCommand': executeCommandParams,
  'efrit/chat': chatParams,
  'efrit/do': doParams,
  'efrit/status': anyValue,
  'efrit/cancel': cancelParams,
  'efrit/endSession': fc.record({ sessionId }, { requiredKeys: [] }),
  'efrit/documentText': fc.record({ textDocument: textDocumentRef }, { requiredKeys: [] }),
  'textDocument/inlineCompletion': fc.record({ textDocument: textDocumentRef, position, context: usually(fc.record({ triggerKind: usually(fc.integer({ min: 0, max: 3 })) })) }, { requiredKeys: [] }),
};

const goodLines = goodText.split('\n');

/** A position inside the sample document. */
const goodPosition = fc
  .integer({ min: 0, max: goodLines.length - 1 })
  .chain((line) => fc.integer({ min: 0, max: (goodLines[line] ?? '').length }).map((character) => ({ line, character })));

/** A range inside the sample document, start before end. */
const goodRange = fc.tuple(goodPosition, goodPosition).map(([a, b]) => {
  const ordered = a.line < b.line || (a.line === b.line && a.character <= b.character);
  return ordered ? { start: a, end: b } : { start: b, end: a };
});

const goodDocument = fc.constant({ uri: Placeholder.goodUri });
const goodDiagnostic = fc.record(
  { range: goodRange, message: fc.oneof(fc.constantFrom("Cannot find name 'amount'.", 'Unused variable.'), weirdString), severity: fc.integer({ min: 1, max: 4 }), source: fc.constant('ts') },
  { requiredKeys: ['range', 'message'] },
);
/** Text the model is asked about: ordinary, or any string at all (lone surrogates, 1 MB) that is still valid. */
const goodMessage = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('Why?', 'Explain this.', 'Make it shorter.') }, { weight: 1, arbitrary: weirdString.filter((text) => text !== '') });
const goodChat = fc.record(
  { message: goodMessage, sessionId: fc.constant(Placeholder.sessionId), textDocument: goodDocument, range: goodRange },
  { requiredKeys: ['message'] },
);
const goodDo = fc.record(
  { instruction: goodMessage, textDocument: goodDocument, range: goodRange, sessionId: fc.constant(Placeholder.sessionId), apply: fc.boolean() },
  { requiredKeys: ['instruction', 'textDocument'] },
);
const goodRunAction = fc.record(
  {
    actionId: fc.constantFrom(...Object.values(BuiltinActions)),
    textDocument: goodDocument,
    range: goodRange,
    instruction: goodMessage,
    diagnostics: fc.array(goodDiagnostic, { maxLength: 2 }),
  },
  { requiredKeys: ['actionId', 'textDocument', 'range'] },
);
const goodCommand = fc.oneof(
  fc.record({ command: fc.constant('efrit.runAction'), arguments: fc.tuple(goodRunAction) }),
  fc.record({ command: fc.constant('efrit.applyJob'), arguments: fc.tuple(fc.constant({ jobId: Placeholder.jobId })) }),
  fc.record({ command: fc.constant('efrit.chat'), arguments: fc.tuple(goodChat) }),
  fc.record({ command: fc.constant('efrit.do'), arguments: fc.tuple(goodDo) }),
  fc.record({ command: fc.constant('efrit.cancel'), arguments: fc.tuple(fc.record({ jobId: fc.constant(Placeholder.jobId), sessionId: fc.constant(Placeholder.sessionId) }, { requiredKeys: [] })) }),
  fc.record({ command: fc.constant('efrit.status'), arguments: fc.constant([]) }),
);

/** Valid params for every request (as valid as the server's state at send time allows). */
const validParams: Record<string, fc.Arbitrary<unknown>> = {
  'textDocument/codeAction': fc.record({
    textDocument: goodDocument,
    range: goodRange,
    context: fc.record({ diagnostics: fc.array(goodDiagnostic, { maxLength: 3 }), only: fc.array(fc.constantFrom('quickfix', 'refactor', 'refactor.rewrite', 'source'), { maxLength: 2 }) }, { requiredKeys: ['diagnostics'] }),
  }),
  'codeAction/resolve': fc.record({
    title: fc.constant('Efrit: Fix'),
    kind: fc.constant('quickfix'),
    data: fc.record({ efrit: fc.constant(1), actionId: fc.constantFrom(...Object.values(BuiltinActions)), uri: fc.constant(Placeholder.goodUri), range: goodRange }),
  }),
  'workspace/executeCommand': goodCommand,
  'efrit/chat': goodChat,
  'efrit/do': goodDo,
  'efrit/status': fc.constant({}),
  'efrit/cancel': fc.record({ jobId: fc.constant(Placeholder.jobId), sessionId: fc.constant(Placeholder.sessionId) }, { requiredKeys: [] }),
  'efrit/endSession': fc.record({ sessionId: fc.constant(Placeholder.sessionId) }),
  'efrit/documentText': fc.record({ textDocument: goodDocument }),
  'textDocument/inlineCompletion': fc.record({
    textDocument: goodDocument,
    position: goodPosition,
    context: fc.record({ triggerKind: fc.constantFrom(1, 2) }),
  }),
};

/** One change to a valid object: a field (at any depth) replaced by a wrong value, removed, or a stray field added. */
interface Mutation {
  at: number;
  op: 'replace' | 'delete' | 'add';
  key: string;
  value: unknown;
}
const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'delete', 'add'),
  key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'valueOf', 'toString', 'uri', 'range', 'extra'), fc.string({ maxLength: 6 })),
  value: wrongValue,
});

type Container = Record<string, unknown> | unknown[];

/** Every object or array in `value`, with how to reach its fields. */
function containers(value: unknown, out: Container[] = []): Container[] {
  if (typeof value !== 'object' || value === null) return out;
  const prototype: unknown = Object.getPrototypeOf(value);
  // Plain objects and arrays only: a boxed String's indices, a Map's entries are not fields.
  if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return out;
  out.push(value as Container);
  for (const child of Object.values(value)) containers(child, out);
  return out;
}

export function mutate(valid: unknown, mutations: readonly Mutation[]): unknown {
  const copy = structuredClone(valid);
  for (const m of mutations) {
    const all = containers(copy);
    // A copy, so that no generated value is shared between places (or cases) and no cycle can form.
    const value: unknown = structuredClone(m.value);
    const target = all[m.at % Math.max(all.length, 1)];
    if (target === undefined) continue;
    const keys = Object.keys(target);
    const key = keys[m.at % Math.max(keys.length, 1)];
    if (m.op === 'add' || key === undefined) {
      // A named key on an array never reaches the wire (JSON drops it), and `constructor` there breaks the array's own
      // methods (splice looks up constructor[Symbol.species]).
      if (Array.isArray(target)) continue;
      Object.defineProperty(target, m.key, { value, enumerable: true, writable: true, configurable: true });
    } else if (m.op === 'delete') {
      if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete target[key];
    } else {
      (target as Record<string, unknown>)[key] = value;
    }
  }
  return copy;
}

/**
 * Params for every request the server handles: valid ones with a few fields
 * broken (most cases, so that they get past the first check), shaped
 * objects full of wrong values, and anything at all.
 */
export const requestParams: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(
  Object.keys(validParams).map((method) => [
    method,
    fc.oneof(
      { weight: 2, arbitrary: validParams[method] as fc.Arbitrary<unknown> },
      { weight: 3, arbitrary: fc.tuple(validParams[method] as fc.Arbitrary<unknown>, fc.array(mutation, { minLength: 1, maxLength: 2 })).map(([valid, ms]) => mutate(valid, ms)) },
      { weight: 2, arbitrary: shapedParams[method] ?? anyValue },
    ),
  ]),
);

const contentChange = usually(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ range, text: usually(weirdString, 6) }, { requiredKeys: ['text'] }) },
    { weight: 1, arbitrary: fc.record({ range, rangeLength: wrongValue, text: usually(weirdString) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.record({ text: usually(fc.oneof(weirdString, fc.constant(goodText))) }) },
  ),
  6,
);

/** Keys of the settings schema plus ones it does not have, including Object.prototype's. */
const settingKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...Object.keys(settingsSchema)) },
  { weight: 1, arbitrary: fc.constantFrom('queue', 'context', 'agent', 'unknown.key', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__') },
  { weight: 1, arbitrary: weirdString },
);
const settingValue = fc.oneof(
  wrongValue,
  fc.integer({ min: -10, max: 200_000 }),
  fc.constantFrom('error', 'warn', 'info', 'debug', 'claude-sonnet-5-5'),
  fc.array(fc.record({ id: usually(weirdString), title: usually(weirdString), prompt: usually(weirdString), kind: usually(weirdString) }, { requiredKeys: [] }), { maxLength: 3 }),
);
/**
 * A settings section. The endpoint and the key are never given a usable
 * string here, so the model calls keep reaching the fake (a key or URL of the
 * fuzzer's could point the server at a host that never answers).
 */
const settingsSection = fc
  .dictionary(settingKey, settingValue, { maxKeys: 5 })
  .map((section) => {
    for (const key of ['apiKey', 'baseURL']) if (typeof section[key] === 'string') section[key] = 42;
    return section;
  });

/** Every notification the server handles. */
export const notificationParams: Record<string, fc.Arbitrary<unknown>> = {
  'textDocument/didOpen': usually(
    fc.record(
      {
        textDocument: usually(
          fc.record(
            { uri, languageId: usually(weirdString), version: usually(weirdNumber), text: usually(fc.oneof(weirdString, fc.constant(goodText)), 6) },
            { requiredKeys: ['uri', 'text'] },
          ),
          6,
        ),
      },
      { requiredKeys: [] },
    ),
    6,
  ),
  'textDocument/didChange': usually(
    fc.record(
      {
        textDocument: usually(fc.record({ uri, version: usually(weirdNumber) }, { requiredKeys: [] }), 6),
        contentChanges: usually(fc.array(contentChange, { maxLength: 4 }), 6),
      },
      { requiredKeys: [] },
    ),
    6,
  ),
  'textDocument/didClose': usually(fc.record({ textDocument: textDocumentRef }, { requiredKeys: [] })),
  'workspace/didChangeWorkspaceFolders': usually(
    fc.record(
      { event: usually(fc.record({ added: usually(fc.array(usually(fc.record({ uri, name: usually(weirdString) })), { maxLength: 2 })), removed: usually(fc.array(usually(fc.record({ uri, name: usually(weirdString) })), { maxLength: 2 })) }), 6) },
      { requiredKeys: [] },
    ),
  ),
  'workspace/didChangeConfiguration': usually(
    fc.record({ settings: fc.oneof(settingsSection, settingsSection.map((efrit) => ({ efrit })), wrongValue) }, { requiredKeys: [] }),
  ),
};

export type Step =
  | { kind: 'request'; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown }
  /** didOpen of the sample document with fresh text, so later steps find it open. */
  | { kind: 'reopen' };

export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(...Object.keys(requestParams)).chain((method) =>
      fc.oneof(
        { weight: 5, arbitrary: requestParams[method] ?? anyValue },
        { weight: 1, arbitrary: anyValue },
      ).map((params): Step => ({ kind: 'request', method, params })),
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...Object.keys(notificationParams)).chain((method) =>
      fc.oneof(
        { weight: 5, arbitrary: notificationParams[method] ?? anyValue },
        { weight: 1, arbitrary: anyValue },
      ).map((params): Step => ({ kind: 'notification', method, params })),
    ),
  },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'reopen' }) },
);

/**
 * What goes on the wire: placeholders filled in, and the value passed
 * through JSON as the transport will (Maps and Sets become {}, NaN null,
 * undefined fields vanish; a lone surrogate survives as a \uXXXX escape).
 */
export function toWire(value: unknown, fill: (placeholder: string) => string): unknown {
  const placeholders = new Set<string>(Object.values(Placeholder));
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' && placeholders.has(v) ? fill(v) : v));
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}
