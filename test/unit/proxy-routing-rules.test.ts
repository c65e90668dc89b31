/**
 * The proxy router's decisions on their own: who owns a request, what each
 * side is told, how two code-action answers become one, when a crashed
 * wrapped server is given up on. (The router around them: test/integration/proxy-router.test.ts.)
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic, NotificationMessage, Range, RequestMessage, ResponseMessage } from 'vscode-languageserver/node';
import { describe, expect, it } from 'vitest';
import {
  childGoneMessage,
  clampActionArguments,
  clampToText,
  codeActionRequestForEfrit,
  fullTextChange,
  isEfritAction,
  mergeCodeActionResponses,
  openNotification,
  ownerOfMethod,
  ownerOfRequest,
  publishedDiagnostics,
  rangesTouch,
  recentRestarts,
  settingsForChild,
  splitInitializationOptions,
  type DocumentLookup,
} from '../../server/src/proxy/routing-rules.js';

const uri = 'file:///work/cart.py';
const cartPy = 'total = 1\nprint(total)\n';
const cart = TextDocument.create(uri, 'python', 3, cartPy);
/** efrit-lsp's store as the router asks it: by uri, which is a string. */
const documentAt: DocumentLookup = (asked) => {
  if (typeof asked !== 'string') throw new TypeError(`asked for a document by ${JSON.stringify(asked)}, which is no uri`);
  return asked === uri ? cart : undefined;
};

const request = (method: string, params?: unknown, id: number | string = 1): RequestMessage => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params: params as object }) });
const notification = (method: string, params?: unknown): NotificationMessage => ({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params: params as object }) });
const range = (startLine: number, startCharacter: number, endLine: number, endCharacter: number): Range => ({
  start: { line: startLine, character: startCharacter },
  end: { line: endLine, character: endCharacter },
});
const diagnostic = (at: Range, message: string): Diagnostic => ({ range: at, message, source: 'pyflakes' });

describe('rangesTouch', () => {
  it('is true for ranges that overlap, contain one another or meet at a point, whichever comes first', () => {
    const touching: [Range, Range][] = [
      [range(1, 0, 1, 12), range(1, 3, 1, 3)],
      [range(1, 0, 1, 5), range(1, 5, 1, 9)],
      [range(0, 4, 2, 0), range(1, 6, 1, 8)],
      [range(0, 9, 1, 2), range(1, 0, 3, 0)],
      [range(2, 0, 2, 0), range(2, 0, 2, 0)],
    ];
    for (const [a, b] of touching) {
      expect(rangesTouch(a, b), JSON.stringify([a, b])).toBe(true);
      expect(rangesTouch(b, a), JSON.stringify([b, a])).toBe(true);
    }
  });

  it('is false for ranges apart, on one line or across lines, whichever comes first', () => {
    const apart: [Range, Range][] = [
      [range(1, 0, 1, 4), range(1, 5, 1, 9)],
      [range(0, 0, 0, 12), range(1, 0, 1, 3)],
      [range(0, 20, 1, 2), range(1, 3, 1, 3)],
      [range(0, 0, 1, 8), range(2, 0, 2, 1)],
    ];
    for (const [a, b] of apart) {
      expect(rangesTouch(a, b), JSON.stringify([a, b])).toBe(false);
      expect(rangesTouch(b, a), JSON.stringify([b, a])).toBe(false);
    }
  });
});

describe('who owns a request', () => {
  it('knows an efrit code action by data.efrit === 1 and nothing else', () => {
    expect(isEfritAction({ title: 'Efrit: Explain', data: { efrit: 1, job: 'explain' } })).toBe(true);
    for (const action of [{ title: 'Organize imports', data: { efrit: 2 } }, { data: { efrit: '1' } }, { data: { efrit: true } }, { data: null }, { data: 'efrit' }, { data: 1 }, {}, null, undefined, 'efrit']) {
      expect(isEfritAction(action), JSON.stringify(action)).toBe(false);
    }
  });

  it('sends a resolve to the side whose action it is', () => {
    expect(ownerOfRequest(request('codeAction/resolve', { title: 'Efrit: Fix', data: { efrit: 1 } }))).toBe('efrit');
    expect(ownerOfRequest(request('codeAction/resolve', { title: 'Organize imports', data: { pylsp: 1 } }))).toBe('child');
  });

  it('sends efrit.* commands to efrit-lsp and every other command to the wrapped server', () => {
    expect(ownerOfRequest(request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [] }))).toBe('efrit');
    expect(ownerOfRequest(request('workspace/executeCommand', { command: 'efrit.status' }))).toBe('efrit');
    for (const params of [{ command: 'pylsp.organizeImports' }, { command: 'efritish' }, { command: 'my.efrit.command' }, { command: 7 }, {}, undefined]) {
      expect(ownerOfRequest(request('workspace/executeCommand', params)), JSON.stringify(params)).toBe('child');
    }
  });

  it("sends efrit/* methods to efrit-lsp and the rest, an unknown efrit-looking one included, to the wrapped server", () => {
    expect(ownerOfRequest(request('efrit/chat', { message: 'hi' }))).toBe('efrit');
    expect(ownerOfRequest(request('textDocument/hover'))).toBe('child');
    expect(ownerOfRequest(request('efrit', {}))).toBe('child');
    expect(ownerOfRequest(request('custom/efrit/do'))).toBe('child');
    expect(ownerOfMethod('efrit/stream')).toBe('efrit');
    expect(ownerOfMethod('$/progress')).toBe('child');
    expect(ownerOfMethod('pylsp/efrit/')).toBe('child');
  });
});

describe('splitInitializationOptions', () => {
  it("gives the efrit section to efrit-lsp and the rest to the wrapped server, the other params to both", () => {
    const initialize = request('initialize', { processId: 42, capabilities: { general: {} }, initializationOptions: { efrit: { logLevel: 'debug' }, pylsp: { plugins: {} } } }, 0);
    const [forChild, forEfrit] = splitInitializationOptions(initialize);
    expect(forChild).toEqual({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { processId: 42, capabilities: { general: {} }, initializationOptions: { pylsp: { plugins: {} } } } });
    expect(forEfrit).toEqual({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { processId: 42, capabilities: { general: {} }, initializationOptions: { efrit: { logLevel: 'debug' } } } });
    // The editor's request is not changed underneath the router.
    expect(initialize.params).toMatchObject({ initializationOptions: { efrit: { logLevel: 'debug' }, pylsp: { plugins: {} } } });
  });

  it('gives options without an own efrit key, or that are not an object, to both sides unchanged', () => {
    const inherited = Object.create({ efrit: { model: 'm' } }) as object;
    const arrayWithEfrit = Object.assign([1, 2], { efrit: { model: 'm' } });
    for (const options of [{ model: 'flat-efrit-setting' }, inherited, arrayWithEfrit, null, 'efrit', 3, undefined]) {
      const initialize = request('initialize', { capabilities: {}, initializationOptions: options });
      const [forChild, forEfrit] = splitInitializationOptions(initialize);
      expect(forChild, String(options)).toBe(initialize);
      expect(forEfrit, String(options)).toBe(initialize);
    }
    const withoutParams = request('initialize');
    expect(splitInitializationOptions(withoutParams)).toEqual([withoutParams, withoutParams]);
  });
});

describe('settingsForChild', () => {
  it('takes the efrit section out of the settings and keeps the rest of the notification', () => {
    const change = notification('workspace/didChangeConfiguration', { settings: { efrit: { model: 'm' }, pylsp: { plugins: { pyflakes: { enabled: true } } } }, extra: 1 });
    expect(settingsForChild(change)).toEqual(notification('workspace/didChangeConfiguration', { settings: { pylsp: { plugins: { pyflakes: { enabled: true } } } }, extra: 1 }));
    expect(change.params).toMatchObject({ settings: { efrit: { model: 'm' } } });
  });

  it('passes settings that are not an object as they are', () => {
    for (const params of [{ settings: null }, { settings: ['efrit'] }, { settings: 'efrit' }, {}, undefined]) {
      const change = notification('workspace/didChangeConfiguration', params);
      expect(settingsForChild(change), JSON.stringify(params)).toBe(change);
    }
  });
});

describe('clamping positions to the text', () => {
  it("moves a position past a line's end to the end, and past the last line to the end of the text", () => {
    const pyflakes = diagnostic(range(1, 0, 1, 40), "undefined name 'x'");
    expect(clampToText(cart, pyflakes)).toEqual({ ...pyflakes, range: range(1, 0, 1, 12) });
    expect(clampToText(cart, { range: range(0, 3, 9, 0) })).toEqual({ range: range(0, 3, 2, 0) });
    expect(pyflakes.range).toEqual(range(1, 0, 1, 40));
  });

  it('leaves an item as it is without the document, a range, or a well-formed range', () => {
    const pyflakes = diagnostic(range(1, 0, 1, 40), 'unused');
    expect(clampToText(undefined, pyflakes)).toBe(pyflakes);
    const noRange: { range?: Range; message: string } = { message: 'no range' };
    expect(clampToText(cart, noRange)).toBe(noRange);
    for (const malformed of [{ start: null, end: 3 }, { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } }, 'x']) {
      const item = { range: malformed as unknown as Range };
      expect(clampToText(cart, item)).toBe(item);
    }
    expect(clampToText(cart, null as unknown as { range?: Range })).toBeNull();
  });

  it("clamps efrit.runAction's range and diagnostics, keeping the other arguments in order", () => {
    const argument = { textDocument: { uri }, range: range(1, 6, 1, 99), diagnostics: [diagnostic(range(1, 0, 1, 40), 'print'), diagnostic(range(5, 0, 6, 0), 'eof')], action: 'fix' };
    const run = request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [argument, 'second', { third: 3 }] }, 12);
    expect(clampActionArguments(run, documentAt)).toEqual({
      jsonrpc: '2.0',
      id: 12,
      method: 'workspace/executeCommand',
      params: {
        command: 'efrit.runAction',
        arguments: [
          { textDocument: { uri }, range: range(1, 6, 1, 12), diagnostics: [diagnostic(range(1, 0, 1, 12), 'print'), diagnostic(range(2, 0, 2, 0), 'eof')], action: 'fix' },
          'second',
          { third: 3 },
        ],
      },
    });
    expect(argument.range).toEqual(range(1, 6, 1, 99));
  });

  it('adds no diagnostics to an action that has none, and keeps ones that are not a list as they are', () => {
    const withoutDiagnostics = clampActionArguments(request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ textDocument: { uri }, range: range(0, 0, 0, 50) }] }), documentAt);
    expect((withoutDiagnostics.params as { arguments: unknown[] }).arguments).toEqual([{ textDocument: { uri }, range: range(0, 0, 0, 9) }]);
    const oddDiagnostics = clampActionArguments(request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ textDocument: { uri }, diagnostics: 'none' }] }), documentAt);
    expect((oddDiagnostics.params as { arguments: unknown[] }).arguments).toEqual([{ textDocument: { uri }, diagnostics: 'none' }]);
    // Malformed ones pass as they are, for efrit-lsp to refuse with a reason.
    const malformed = clampActionArguments(
      request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ textDocument: { uri }, diagnostics: [null, { message: 'no range' }, diagnostic(range(0, 0, 0, 40), 'ok')] }] }),
      documentAt,
    );
    expect((malformed.params as { arguments: unknown[] }).arguments).toEqual([{ textDocument: { uri }, diagnostics: [null, { message: 'no range' }, diagnostic(range(0, 0, 0, 9), 'ok')] }]);
  });

  it('does not clamp in a document that is not open, or without a uri', () => {
    const elsewhere = { textDocument: { uri: 'file:///work/other.py' }, range: range(0, 0, 0, 50) };
    expect((clampActionArguments(request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [elsewhere] }), documentAt).params as { arguments: unknown[] }).arguments).toEqual([elsewhere]);
    for (const noUri of [{ textDocument: { uri: 7 }, range: range(0, 0, 0, 50) }, { textDocument: {}, range: range(0, 0, 0, 50) }, { range: range(0, 0, 0, 50) }]) {
      expect((clampActionArguments(request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [noUri] }), documentAt).params as { arguments: unknown[] }).arguments).toEqual([noUri]);
    }
  });

  it('leaves other commands, and runAction without a usable argument, as they are', () => {
    const requests = [
      request('workspace/executeCommand', { command: 'efrit.status', arguments: [{ textDocument: { uri }, range: range(0, 0, 0, 50) }] }),
      request('workspace/executeCommand', { command: 'efrit.runAction', arguments: { 0: { textDocument: { uri }, range: range(0, 0, 0, 50) } } }),
      request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [] }),
      request('workspace/executeCommand', { command: 'efrit.runAction', arguments: [null] }),
      request('workspace/executeCommand', { command: 'efrit.runAction', arguments: ['fix'] }),
      request('workspace/executeCommand', { command: 'efrit.runAction' }),
      request('workspace/executeCommand'),
    ];
    for (const run of requests) expect(clampActionArguments(run, documentAt), JSON.stringify(run.params)).toBe(run);
  });
});

describe('codeActionRequestForEfrit', () => {
  const cursor = range(1, 3, 1, 3);
  const onPrint = diagnostic(range(1, 0, 1, 40), 'print is shadowed');
  const onTotal = diagnostic(range(0, 0, 0, 5), "'total' is unused");

  it("gives efrit-lsp the wrapped server's kept diagnostics that touch the range when the editor sent none, clamped", () => {
    const ask = request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [], only: ['quickfix'], triggerKind: 1 } }, 9);
    expect(codeActionRequestForEfrit(ask, [onTotal, onPrint], documentAt)).toEqual({
      jsonrpc: '2.0',
      id: 9,
      method: 'textDocument/codeAction',
      params: { textDocument: { uri }, range: cursor, context: { diagnostics: [{ ...onPrint, range: range(1, 0, 1, 12) }], only: ['quickfix'], triggerKind: 1 } },
    });
    // The wrapped server gets the editor's request, which is not changed.
    expect(ask.params).toMatchObject({ context: { diagnostics: [] } });
  });

  it('leaves out kept diagnostics without a well-formed range', () => {
    const kept = [{ message: 'no range' }, null, { range: { start: { line: 1 }, end: { line: 1 } }, message: 'half a range' }, onPrint] as unknown as Diagnostic[];
    const ask = request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [] } });
    expect((codeActionRequestForEfrit(ask, kept, documentAt).params as { context: unknown }).context).toEqual({ diagnostics: [{ ...onPrint, range: range(1, 0, 1, 12) }] });
  });

  it("uses the editor's diagnostics when it sent some, clamped, and the kept ones when it sent no context", () => {
    const sent = diagnostic(range(0, 0, 0, 30), 'from the editor');
    const withSent = codeActionRequestForEfrit(request('textDocument/codeAction', { textDocument: { uri }, range: range(0, 2, 0, 60), context: { diagnostics: [sent] } }), [onPrint, onTotal], documentAt);
    expect(withSent.params).toEqual({ textDocument: { uri }, range: range(0, 2, 0, 9), context: { diagnostics: [{ ...sent, range: range(0, 0, 0, 9) }] } });
    const noContext = codeActionRequestForEfrit(request('textDocument/codeAction', { textDocument: { uri }, range: range(0, 1, 0, 1) }), [onPrint, onTotal], documentAt);
    expect(noContext.params).toEqual({ textDocument: { uri }, range: range(0, 1, 0, 1), context: { diagnostics: [onTotal] } });
    const nothingKept = codeActionRequestForEfrit(request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [] } }), undefined, documentAt);
    expect(nothingKept.params).toEqual({ textDocument: { uri }, range: cursor, context: { diagnostics: [] } });
  });

  it('does not clamp in a document that is not open, but still adds the kept diagnostics', () => {
    const other = 'file:///work/other.py';
    const ask = request('textDocument/codeAction', { textDocument: { uri: other }, range: range(1, 3, 1, 90), context: { diagnostics: [] } });
    expect(codeActionRequestForEfrit(ask, [onPrint], documentAt).params).toEqual({ textDocument: { uri: other }, range: range(1, 3, 1, 90), context: { diagnostics: [onPrint] } });
  });

  it('passes a request without a document, a well-formed range or a list of diagnostics as it is', () => {
    const requests = [
      request('textDocument/codeAction', { range: cursor, context: { diagnostics: [] } }),
      request('textDocument/codeAction', { textDocument: { uri }, context: { diagnostics: [] } }),
      request('textDocument/codeAction', { textDocument: { uri }, range: { start: null, end: 3 }, context: { diagnostics: [] } }),
      request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: 'all of them' } }),
      request('textDocument/codeAction'),
    ];
    for (const ask of requests) expect(codeActionRequestForEfrit(ask, [onPrint], documentAt), JSON.stringify(ask.params)).toBe(ask);
  });

  it("passes the editor's malformed diagnostics in a list on, unclamped, for efrit-lsp to refuse", () => {
    const ask = request('textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [null, { message: 'no range' }] } });
    expect(codeActionRequestForEfrit(ask, [onPrint], documentAt).params).toEqual({ textDocument: { uri }, range: cursor, context: { diagnostics: [null, { message: 'no range' }] } });
  });
});

describe('mergeCodeActionResponses', () => {
  const answer = (id: number, result: unknown): ResponseMessage => ({ jsonrpc: '2.0', id, result: result as null });
  const failure = (id: number, message: string): ResponseMessage => ({ jsonrpc: '2.0', id, error: { code: -32603, message } });
  const organize = { title: 'Organize imports', kind: 'source.organizeImports' };
  const explain = { title: 'Efrit: Explain', data: { efrit: 1 } };

  it("lists the wrapped server's actions first, then efrit-lsp's", () => {
    expect(mergeCodeActionResponses(answer(4, [organize]), answer(4, [explain]))).toEqual({ jsonrpc: '2.0', id: 4, result: [organize, explain] });
  });

  it('keeps the actions of the side that answered when the other failed', () => {
    expect(mergeCodeActionResponses(failure(4, 'pylsp crashed'), answer(4, [explain]))).toEqual({ jsonrpc: '2.0', id: 4, result: [explain] });
    expect(mergeCodeActionResponses(answer(4, [organize]), failure(4, 'no key'))).toEqual({ jsonrpc: '2.0', id: 4, result: [organize] });
  });

  it("answers efrit-lsp's error when both failed", () => {
    const efritFailed = failure(4, 'no key');
    expect(mergeCodeActionResponses(failure(4, 'pylsp crashed'), efritFailed)).toBe(efritFailed);
  });

  it('answers null only when neither side offered a list', () => {
    expect(mergeCodeActionResponses(answer(4, null), answer(4, null))).toEqual({ jsonrpc: '2.0', id: 4, result: null });
    expect(mergeCodeActionResponses(failure(4, 'gone'), answer(4, null)).result).toBeNull();
    expect(mergeCodeActionResponses(answer(4, null), failure(4, 'no key')).result).toBeNull();
    expect(mergeCodeActionResponses(answer(4, null), answer(4, [])).result).toEqual([]);
    expect(mergeCodeActionResponses(answer(4, []), answer(4, null)).result).toEqual([]);
    expect(mergeCodeActionResponses(answer(4, null), answer(4, [explain])).result).toEqual([explain]);
    // An answer that is no list adds nothing, but is not "none" either.
    expect(mergeCodeActionResponses(answer(4, { title: 'not a list' }), answer(4, null)).result).toEqual([]);
    expect(mergeCodeActionResponses(failure(4, 'gone'), answer(4, { title: 'not a list' }))).toEqual({ jsonrpc: '2.0', id: 4, result: [] });
  });

  it('takes nothing from a side that failed, even when its answer also carries a result', () => {
    const failedWithActions: ResponseMessage = { jsonrpc: '2.0', id: 4, error: { code: -32603, message: 'half an answer' }, result: [organize] as unknown as null };
    expect(mergeCodeActionResponses(failedWithActions, answer(4, [explain])).result).toEqual([explain]);
    expect(mergeCodeActionResponses(answer(4, [explain]), failedWithActions).result).toEqual([explain]);
  });
});

describe('messages the router makes', () => {
  it('reads a publishDiagnostics only when it names a document and lists diagnostics', () => {
    const listed = [diagnostic(range(0, 0, 0, 5), 'unused')];
    expect(publishedDiagnostics({ uri, diagnostics: listed, version: 2 })).toEqual({ uri, diagnostics: listed });
    expect(publishedDiagnostics({ uri, diagnostics: [] })).toEqual({ uri, diagnostics: [] });
    for (const params of [{ uri: 7, diagnostics: [] }, { uri, diagnostics: 'none' }, { uri }, { diagnostics: [] }, null, undefined]) {
      expect(publishedDiagnostics(params), JSON.stringify(params)).toBeUndefined();
    }
  });

  it("opens and fully resyncs a document as the store holds it", () => {
    const doc = { uri, languageId: 'python', version: 7, text: cartPy };
    expect(openNotification(doc)).toEqual({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 7, text: cartPy } } });
    expect(fullTextChange(doc)).toEqual({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version: 7 }, contentChanges: [{ text: cartPy }] } });
  });
});

describe('giving up on a crashing wrapped server', () => {
  it('counts the restarts less than the window ago', () => {
    // One exactly the window ago no longer counts.
    expect(recentRestarts([1_000, 50_000, 200_000, 200_001], 380_000, 180_000)).toEqual([200_001]);
    expect(recentRestarts([200_001, 379_999], 380_000, 180_000)).toEqual([200_001, 379_999]);
    expect(recentRestarts([], 380_000, 180_000)).toEqual([]);
  });

  it('says why it is not restarted, with the crash count and the window in minutes', () => {
    expect(childGoneMessage('pylsp', 'exited with code 1', undefined)).toBe(
      `Efrit: the wrapped language server "pylsp" exited with code 1. Its features are gone until the editor restarts it; efrit-lsp's own features keep working.`,
    );
    expect(childGoneMessage('pylsp', 'was killed by SIGSEGV', { maxRestarts: 4, windowMs: 180_000 })).toBe(
      `Efrit: the wrapped language server "pylsp" was killed by SIGSEGV. It has crashed 5 times in 3 minutes, so it is not restarted again. Its features are gone until the editor restarts it; efrit-lsp's own features keep working.`,
    );
    expect(childGoneMessage('gopls', 'exited', { maxRestarts: 0, windowMs: 90_000 })).toContain('It has crashed 1 times in 2 minutes');
  });
});
