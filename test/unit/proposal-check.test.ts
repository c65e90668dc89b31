/**
 * The check of a proposed change against a scripted language server behind
 * the LanguageIntelligence port (the real servers are in
 * test/integration/proposal-check.test.ts): which texts are compared, how new
 * errors are told from old ones, and what a check that cannot run does.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { LanguageIntelligence, SemanticFeature, ShadowCheck } from '../../server/src/agent/language-intelligence.js';
import { sha256Of } from '../../server/src/agent/read-ledger.js';
import type { PlannedChange } from '../../server/src/assistant/change-plan.js';
import { newErrors, noteFor, ProposalChecker } from '../../server/src/assistant/proposal-check.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

const error = (line: number, message: string, code: number | string = 2322): Diagnostic => ({
  range: { start: { line, character: 0 }, end: { line, character: 3 } },
  message,
  severity: 1,
  source: 'typescript',
  code,
});

/** Answers each shadow check by the text: `diagnose(text)`. */
class ScriptedChecks implements LanguageIntelligence {
  readonly label = 'scripted-ls';
  readonly checks: ShadowCheck[] = [];
  constructor(
    private readonly diagnose: (text: string) => Diagnostic[] | Error,
    private readonly offered: SemanticFeature[] = ['diagnostics'],
  ) {}
  features(): ReadonlySet<SemanticFeature> {
    return new Set(this.offered);
  }
  request(): Promise<unknown> {
    return Promise.reject(new Error('not scripted'));
  }
  withDocument<T>(_document: unknown, use: () => Promise<T>): Promise<T> {
    return use();
  }
  publishedDiagnostics(): undefined {
    return undefined;
  }
  /** What was put at shadows ahead of checks, and how often the shadows were closed. */
  readonly warmed: ShadowCheck[] = [];
  closed = 0;
  warmShadows(check: ShadowCheck): void {
    this.warmed.push(check);
  }
  closeShadows(): void {
    this.closed += 1;
  }
  diagnosticsOfTexts(check: ShadowCheck): Promise<Diagnostic[][]> {
    this.checks.push(check);
    const results = check.texts.map((text) => this.diagnose(text));
    const failed = results.find((result) => result instanceof Error);
    return failed instanceof Error ? Promise.reject(failed) : Promise.resolve(results as Diagnostic[][]);
  }
}

const uri = 'file:///w/src/total.ts';
const source = 'export const total: number = 1;\n';
const never = new AbortController().signal;

function openStore(text = source): DocumentStore {
  const documents = new DocumentStore();
  documents.open({ uri, languageId: 'typescript', version: 1, text });
  return documents;
}

function checker(server: LanguageIntelligence, documents: DocumentStore, disk: Record<string, string> = {}) {
  return new ProposalChecker({ intelligence: server, document: (u) => documents.get(u), readDisk: (realPath) => Promise.resolve(disk[realPath]) });
}

/** A change that replaces `number` by `string` in the open document, planned at version 1. */
function retype(documents: DocumentStore): PlannedChange {
  const doc = documents.get(uri)!;
  const start = source.indexOf('number');
  return {
    summary: 'Retype',
    files: [{ kind: 'editOpen', uri, displayPath: 'src/total.ts', baseVersion: 1, baseEpoch: doc.journal.epoch, openId: doc.openId, edits: [{ start, end: start + 'number'.length, newText: 'string' }] }],
  };
}

describe('checking a proposed change', () => {
  it("compares the document as it is with the change applied onto the user's latest text, and refuses new errors with their lines", async () => {
    const documents = openStore();
    const plan = retype(documents);
    // The user typed above while the model worked: the change lands on that text.
    documents.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// typed\n' }]);
    const server = new ScriptedChecks((text) => (text.includes('string = 1') ? [error(1, "Type 'number' is not assignable to type 'string'.")] : []));

    const verdict = await checker(server, documents).check(plan, never);

    expect(server.checks).toEqual([{ uri, languageId: 'typescript', texts: [`// typed\n${source}`, `// typed\n${source.replace('number', 'string')}`] }]);
    expect(verdict.notes).toEqual(['1 new error in src/total.ts; fixing']);
    expect(verdict.refusal).toBe(
      [
        'The language server reports 1 new error in the change as proposed (line numbers are in the changed text):',
        "src/total.ts:2: Type 'number' is not assignable to type 'string'. [typescript 2322]\n    2| export const total: string = 1;",
        'Nothing was applied. Fix these errors and propose the whole change again.',
      ].join('\n'),
    );
  });

  it('applies several edits to one document at their own offsets', async () => {
    const documents = openStore('let a = 1;\nlet b = 2;\n');
    const doc = documents.get(uri)!;
    const edits = [
      { start: 4, end: 5, newText: 'first' },
      { start: 15, end: 16, newText: 'second' },
    ];
    const server = new ScriptedChecks(() => []);
    await checker(server, documents).check({ summary: 's', files: [{ kind: 'editOpen', uri, displayPath: 'src/total.ts', baseVersion: 1, baseEpoch: doc.journal.epoch, openId: doc.openId, edits }] }, never);
    expect(server.checks[0]?.texts[1]).toBe('let first = 1;\nlet second = 2;\n');
  });

  it('lets a change through that only moves or removes errors', async () => {
    const documents = openStore();
    const server = new ScriptedChecks((text) => (text.includes('string') ? [error(3, 'old one, moved')] : [error(0, 'old one, moved'), error(1, 'fixed by it', 2304)]));
    const verdict = await checker(server, documents).check(retype(documents), never);
    expect(verdict).toEqual({ refusal: undefined, notes: ['checked src/total.ts: no new errors, 1 fixed'], checked: [{ displayPath: 'src/total.ts', introduced: [], removed: 1 }] });
  });

  it('checks a created file whole, and an edited file on disk against its text as read', async () => {
    const documents = new DocumentStore();
    const disk = { '/w/src/util.ts': 'export const a = 1;\n' };
    const server = new ScriptedChecks((text) => (text.includes('oops') ? [error(0, "Cannot find name 'oops'.", 2304)] : []));
    const plan: PlannedChange = {
      summary: 'Two files',
      files: [
        { kind: 'create', uri: 'file:///w/src/new.ts', displayPath: 'src/new.ts', lexicalPath: '/w/src/new.ts', text: 'export const b = oops;\n' },
        {
          kind: 'editDisk',
          uri: 'file:///w/src/util.ts',
          displayPath: 'src/util.ts',
          guard: { kind: 'disk', realPath: '/w/src/util.ts', lexicalPath: '/w/src/util.ts', sha256: sha256Of(disk['/w/src/util.ts']) },
          edits: [{ range: { start: { line: 0, character: 17 }, end: { line: 0, character: 18 } }, newText: '2' }],
        },
        { kind: 'delete', uri: 'file:///w/src/old.ts', displayPath: 'src/old.ts', lexicalPath: '/w/src/old.ts', guard: { kind: 'disk', realPath: '/w/src/old.ts', lexicalPath: '/w/src/old.ts', sha256: '' } },
      ],
    };

    const verdict = await checker(server, documents, disk).check(plan, never);

    expect(server.checks).toEqual([
      { uri: 'file:///w/src/new.ts', languageId: 'typescript', texts: ['export const b = oops;\n'] },
      { uri: 'file:///w/src/util.ts', languageId: 'typescript', texts: ['export const a = 1;\n', 'export const a = 2;\n'] },
    ]);
    expect(verdict.notes).toEqual(['1 new error in src/new.ts; fixing', 'checked src/util.ts: no new errors']);
    expect(verdict.refusal).toContain("src/new.ts:1: Cannot find name 'oops'. [typescript 2304]");
  });

  it('does not check a file that changed since the model read it (the change is refused when sent anyway)', async () => {
    const server = new ScriptedChecks(() => []);
    const plan: PlannedChange = {
      summary: 'x',
      files: [{ kind: 'editDisk', uri: 'file:///w/a.ts', displayPath: 'a.ts', guard: { kind: 'disk', realPath: '/w/a.ts', lexicalPath: '/w/a.ts', sha256: sha256Of('as read') }, edits: [] }],
    };
    const verdict = await checker(server, new DocumentStore(), { '/w/a.ts': 'changed since' }).check(plan, never);
    expect(verdict).toEqual({ refusal: undefined, notes: ['not checked: a.ts changed on disk'], checked: [] });
    expect(server.checks).toEqual([]);
  });

  it('lets the change through with a note when the check cannot run', async () => {
    const documents = openStore();
    const server = new ScriptedChecks(() => new Error('scripted-ls published no diagnostics for the checked text within 15 s.'));
    const verdict = await checker(server, documents).check(retype(documents), never);
    expect(verdict).toEqual({
      refusal: undefined,
      notes: ['could not check the change with the language server: scripted-ls published no diagnostics for the checked text within 15 s.'],
      checked: [],
      failure: 'scripted-ls published no diagnostics for the checked text within 15 s.',
    });
  });

  it('checks at most maxFiles files and lists at most maxErrorsListed errors, saying so', async () => {
    const server = new ScriptedChecks((text) => (text === '' ? [] : [error(0, 'first'), error(0, 'second', 1)]));
    const create = (name: string) => ({ kind: 'create' as const, uri: `file:///w/${name}`, displayPath: name, lexicalPath: `/w/${name}`, text: `x`.repeat(250) });
    const limited = new ProposalChecker({ intelligence: server, document: () => undefined, readDisk: () => Promise.resolve(undefined), maxFiles: 1, maxErrorsListed: 1 });
    const verdict = await limited.check({ summary: 's', files: [create('a.ts'), create('b.ts')] }, never);
    expect(server.checks.map((check) => check.uri)).toEqual(['file:///w/a.ts']);
    expect(verdict.notes).toEqual(['not checked: b.ts (at most 1 files of a change are checked)', '2 new errors in a.ts; fixing']);
    expect(verdict.refusal?.split('\n')).toEqual([
      'The language server reports 2 new errors in the change as proposed (line numbers are in the changed text):',
      'a.ts:1: first [typescript 2322]',
      // The line's text is cut: it is there to find the spot, not to read.
      `    1| ${'x'.repeat(200)}`,
      '(1 more not listed)',
      'Nothing was applied. Fix these errors and propose the whole change again.',
    ]);
  });

  it('names where an error comes from as the server does: source and code, either, or neither', async () => {
    const at = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } } };
    const server = new ScriptedChecks(() => [
      { ...at, message: "undefined name 'nmae'", source: 'pyflakes' },
      { ...at, message: 'bare', code: '' },
      { ...at, message: 'coded', code: 'E1' },
      { ...at, message: 'sourced', source: 'pylint', code: '' },
      { ...at, message: '  spread\n  over   lines ' },
    ]);
    const verdict = await checker(server, new DocumentStore()).check({ summary: 's', files: [{ kind: 'create', uri: 'file:///w/a.py', displayPath: 'a.py', lexicalPath: '/w/a.py', text: '  x = nmae  \n' }] }, never);
    expect(verdict.refusal).toContain("a.py:1: undefined name 'nmae' [pyflakes]\n    1| x = nmae\n");
    expect(verdict.refusal).toContain('a.py:1: bare\n');
    expect(verdict.refusal).toContain('a.py:1: coded [E1]\n');
    expect(verdict.refusal).toContain('a.py:1: sourced [pylint]\n');
    expect(verdict.refusal).toContain('a.py:1: spread over lines\n');
  });

  it('does not check an open document that was closed or reopened, or that the user changed where the edit lands', async () => {
    const server = new ScriptedChecks(() => []);
    const closed = openStore();
    const plan = retype(closed);
    closed.close(uri);
    expect((await checker(server, closed).check(plan, never)).notes).toEqual(['not checked: src/total.ts was closed']);
    closed.open({ uri, languageId: 'typescript', version: 1, text: source });
    expect((await checker(server, closed).check(plan, never)).notes).toEqual(['not checked: src/total.ts was closed']);

    const typedOver = openStore();
    const overlapping = retype(typedOver);
    const start = source.indexOf('number');
    typedOver.change(uri, 2, [{ range: { start: { line: 0, character: start }, end: { line: 0, character: start + 3 } }, text: 'big' }]);
    expect((await checker(server, typedOver).check(overlapping, never)).notes).toEqual(['not checked: src/total.ts changed where the edit lands']);
    expect(server.checks).toEqual([]);
  });

  it('does not check a file on disk that can no longer be read, nor a rename', async () => {
    const server = new ScriptedChecks(() => []);
    const plan: PlannedChange = {
      summary: 'x',
      files: [
        { kind: 'editDisk', uri: 'file:///w/a.ts', displayPath: 'a.ts', guard: { kind: 'disk', realPath: '/w/a.ts', lexicalPath: '/w/a.ts', sha256: sha256Of('') }, edits: [] },
        { kind: 'rename', uri: 'file:///w/b.ts', displayPath: 'b.ts', lexicalPath: '/w/b.ts', newUri: 'file:///w/c.ts', newDisplayPath: 'c.ts', newLexicalPath: '/w/c.ts' },
      ],
    };
    const verdict = await checker(server, new DocumentStore(), {}).check(plan, never);
    expect(verdict).toEqual({ refusal: undefined, notes: ['not checked: a.ts changed on disk'], checked: [] });
    expect(server.checks).toEqual([]);
  });

  it('is not available without a language server that initialized', () => {
    expect(checker(new ScriptedChecks(() => [], []), new DocumentStore()).available()).toBe(false);
    expect(checker(new ScriptedChecks(() => []), new DocumentStore()).available()).toBe(true);
  });
});

describe('keeping shadows warm for the jobs on a document', () => {
  /** A job's end, settled by the test. */
  const gate = () => {
    let open!: () => void;
    let fail!: () => void;
    const finished = new Promise<void>((resolve, reject) => {
      open = resolve;
      fail = () => reject(new Error('cancelled'));
    });
    return { finished, open, fail };
  };
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it("puts the document's text at a shadow when a job starts, and closes the shadows when the last job underway ends, however it ends", async () => {
    const server = new ScriptedChecks(() => []);
    const documents = openStore();
    const check = checker(server, documents);
    const first = gate();
    const second = gate();
    check.keepWarmDuring(uri, first.finished);
    documents.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// typed\n' }]);
    check.keepWarmDuring(uri, second.finished);
    expect(server.warmed).toEqual([
      { uri, languageId: 'typescript', texts: [source] },
      { uri, languageId: 'typescript', texts: [`// typed\n${source}`] },
    ]);
    first.fail();
    await settled();
    // Another job still checks: its shadows stay.
    expect(server.closed).toBe(0);
    second.open();
    await settled();
    expect(server.closed).toBe(1);
  });

  it('warms nothing for a document that is not open, but keeps the job counted', async () => {
    const server = new ScriptedChecks(() => []);
    const check = checker(server, new DocumentStore());
    const job = gate();
    check.keepWarmDuring(uri, job.finished);
    expect(server.warmed).toEqual([]);
    job.open();
    await settled();
    expect(server.closed).toBe(1);
  });

  it('does nothing without a language server to check with', async () => {
    const server = new ScriptedChecks(() => [], []);
    const check = checker(server, openStore());
    const job = gate();
    check.keepWarmDuring(uri, job.finished);
    job.open();
    await settled();
    expect(server.warmed).toEqual([]);
    expect(server.closed).toBe(0);
  });
});

describe('new errors', () => {
  it('counts each occurrence, ignores warnings, and matches by code and message, not line', () => {
    const warning: Diagnostic = { ...error(0, 'unused'), severity: 2 };
    const { introduced, removed } = newErrors([error(0, 'same'), error(5, 'gone', 1)], [error(2, 'same', 9999), error(9, 'same'), error(10, 'same'), warning]);
    expect(introduced).toEqual([error(2, 'same', 9999), error(10, 'same')]);
    expect(removed).toBe(1);
    // A warning before does not excuse the same message as an error after; whitespace in a message does not make it another.
    expect(newErrors([{ ...error(0, 'unused'), severity: 2 }], [error(0, 'unused')]).introduced).toEqual([error(0, 'unused')]);
    expect(newErrors([error(0, 'Type  is\n wrong. ')], [error(3, 'Type is wrong.')]).introduced).toEqual([]);
  });

  it('says what the stream shows', () => {
    expect(noteFor('src/a.ts', 2, 0)).toBe('2 new errors in src/a.ts; fixing');
    expect(noteFor('src/a.ts', 0, 0)).toBe('checked src/a.ts: no new errors');
    expect(noteFor('src/a.ts', 1, 2)).toBe('1 new error in src/a.ts, 2 fixed; fixing');
  });
});
