/**
 * Planning a change across files: the model's proposal checked against what
 * the agent read, and the WorkspaceEdit built from it just before sending.
 * A real workspace on disk and a real DocumentStore; no editor.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeLineRange, ReadLedger } from '../../server/src/agent/read-ledger.js';
import { WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import { eolOf, planChange, type PlanEnvironment, type PlannedChange } from '../../server/src/assistant/change-plan.js';
import { excerptQuoteSource } from '../../server/src/assistant/edit-proposal.js';
import { buildWorkspaceEdit, needsConfirmation, type BuildEnvironment } from '../../server/src/assistant/workspace-edit.js';
import { EfritError } from '../../server/src/common/errors.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

const invoiceTs = `export interface Invoice {
  lines: number[];
}

export function invoiceTotal(invoice: Invoice): number {
  return invoice.lines.reduce((sum, line) => sum + line, 0);
}
`;
const taxTs = `import { invoiceTotal, type Invoice } from './invoice.js';

export function withTax(invoice: Invoice, rate: number): number {
  return invoiceTotal(invoice) * (1 + rate);
}

export function taxOnly(invoice: Invoice, rate: number): number {
  return invoiceTotal(invoice) * rate;
}
`;

let workspace: string;
let documents: DocumentStore;
let tools: WorkspaceTools;
let ledger: ReadLedger;
let invoiceUri: string;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-plan-'));
  await mkdir(join(workspace, 'src'));
  await writeFile(join(workspace, 'src', 'invoice.ts'), invoiceTs);
  await writeFile(join(workspace, 'src', 'tax.ts'), taxTs);
  documents = new DocumentStore();
  invoiceUri = pathToFileURL(join(workspace, 'src', 'invoice.ts')).href;
  documents.open({ uri: invoiceUri, languageId: 'typescript', version: 1, text: invoiceTs });
  tools = new WorkspaceTools({ roots: () => [workspace], documents, allowSecretFiles: () => false });
  ledger = new ReadLedger();
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function environment(limits = { maxFiles: 20, maxBytes: 1 << 20 }): PlanEnvironment {
  const doc = documents.get(invoiceUri);
  if (doc === undefined) throw new Error('invoice.ts is not open');
  const excerpt = { windowText: doc.text, windowStartOffset: 0, windowStartLine: 0, relativePath: 'src/invoice.ts' };
  return {
    target: { uri: invoiceUri, displayPath: 'src/invoice.ts', excerpt: excerptQuoteSource(excerpt, doc.eol, 0), baseVersion: doc.version, baseEpoch: doc.journal.epoch, openId: doc.openId },
    ledger,
    locate: (path) => tools.locate(path),
    openDocumentAt: (located) => tools.openDocumentAt(located),
    document: (uri) => documents.get(uri),
    limits,
  };
}

function buildEnvironment(overrides: Partial<BuildEnvironment> = {}): BuildEnvironment {
  return {
    capabilities: { documentChanges: true, resourceOperations: new Set(['create', 'rename', 'delete']), changeAnnotations: false },
    confirm: 'multiFile',
    exclude: new Set(),
    document: (uri) => documents.get(uri),
    openDocumentFor: async (path) => tools.openDocumentAt(await tools.locate(path)),
    readDisk: async (realPath) => (await import('node:fs/promises')).readFile(realPath, 'utf8').catch(() => undefined),
    refuseText: () => undefined,
    summary: '',
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<EfritError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof EfritError)) throw new Error(`expected an EfritError, got ${String(error)}`);
  return error;
}

describe('the lines the agent was shown', () => {
  it('merges ranges that overlap or touch, and keeps the others apart, in order', () => {
    expect(mergeLineRange([], 5, 9)).toEqual([[5, 9]]);
    expect(mergeLineRange([[5, 9]], 10, 12)).toEqual([[5, 12]]);
    expect(mergeLineRange([[5, 9]], 1, 3)).toEqual([
      [1, 3],
      [5, 9],
    ]);
    expect(mergeLineRange([[1, 3], [8, 9]], 2, 8)).toEqual([[1, 9]]);
    expect(mergeLineRange([[1, 3]], 11, 12)).toEqual([
      [1, 3],
      [11, 12],
    ]);
  });

  it('adds to what was shown of the same text, and starts over when the text changed', () => {
    const origin = { kind: 'disk' as const, realPath: '/w/a.ts', lexicalPath: '/w/a.ts', sha256: 'one' };
    ledger.record('a.ts', 'x\ny\n', origin, 1, 1);
    ledger.record('a.ts', 'x\ny\n', origin, 2, 2);
    expect(ledger.get('a.ts')?.shownLines).toEqual([[1, 2]]);
    ledger.record('a.ts', 'z\n', { ...origin, sha256: 'two' }, 1, 1);
    expect(ledger.get('a.ts')).toMatchObject({ text: 'z\n', shownLines: [[1, 1]] });
  });

  it('forgets the least recently read file past its byte bound', () => {
    const small = new ReadLedger(10);
    const origin = (name: string) => ({ kind: 'disk' as const, realPath: name, lexicalPath: name, sha256: name });
    small.record('a.ts', 'aaaa', origin('a'), 1, 1);
    small.record('b.ts', 'bbbb', origin('b'), 1, 1);
    small.record('c.ts', 'cccc', origin('c'), 1, 1);
    expect(small.get('a.ts')).toBeUndefined();
    expect(small.get('c.ts')?.text).toBe('cccc');
  });
});

describe('planning a change', () => {
  it('reads a line ending from the first line break', () => {
    expect(eolOf('a\r\nb\n')).toBe('\r\n');
    expect(eolOf('a\nb\r\n')).toBe('\n');
    expect(eolOf('no break')).toBe('\n');
    expect(eolOf('\nfirst line empty')).toBe('\n');
  });

  it('quotes from the lines read only: a quote elsewhere in the file is refused, naming the file', async () => {
    await tools.run('read_file', { path: 'src/tax.ts', start_line: 1, end_line: 5 }, undefined, ledger);
    const within = await planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'invoiceTotal(invoice) * (1 + rate)', new_text: 'total(invoice) * (1 + rate)' }] }, environment());
    expect(within.files).toMatchObject([{ kind: 'editDisk', displayPath: 'src/tax.ts' }]);

    const error = await refusal(planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'invoiceTotal(invoice) * rate;', new_text: 'x' }] }, environment()));
    expect(error).toMatchObject({ reason: 'invalidEdit', message: expect.stringContaining('quotes text that is not in src/tax.ts') });
  });

  it('refuses a quote that occurs twice in the lines read, with both line numbers', async () => {
    await tools.run('read_file', { path: 'src/tax.ts' }, undefined, ledger);
    const error = await refusal(planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'return invoiceTotal(invoice)', new_text: 'x' }] }, environment()));
    expect(error.message).toContain('its text occurs at lines 4 and 8');
  });

  it('numbers a refused edit as the model did, across files', async () => {
    await tools.run('read_file', { path: 'src/tax.ts' }, undefined, ledger);
    const proposal = {
      summary: 's',
      edits: [
        { old_text: 'export interface Invoice {', new_text: 'export interface Bill {' },
        { path: 'src/tax.ts', old_text: 'not there', new_text: 'x' },
      ],
    };
    expect((await refusal(planChange(proposal, environment()))).message).toContain("The model's edit 2 quotes text that is not in src/tax.ts");
  });

  it.each([
    [null, 'its arguments are not an object'],
    [{ summary: 's', edits: 'x' }, '"edits" is not a list'],
    [{ summary: 's', edits: [], files: {} }, '"files" is not a list'],
    [{ summary: 's', edits: [] }, 'it proposed no edits'],
    [{ summary: 's', edits: [{ path: 3, old_text: 'a', new_text: 'b' }] }, 'edit 1 has a "path" that is not a string'],
    [{ summary: 's', edits: [], files: ['x'] }, 'file operation 1 is not an object'],
    [{ summary: 's', edits: [], files: [{ action: 'move', path: 'a' }] }, 'file operation 1 has action "move"'],
    [{ summary: 's', edits: [], files: [{ action: 'create', path: ' ' }] }, 'file operation 1 lacks "path"'],
    [{ summary: 's', edits: [], files: [{ action: 'create', path: 'src/new.ts' }] }, 'lacks "text", the new file\'s whole content'],
    [{ summary: 's', edits: [], files: [{ action: 'rename', path: 'src/tax.ts' }] }, '(rename src/tax.ts) lacks "new_path"'],
    [
      { summary: 's', edits: [], files: [{ action: 'create', path: 'src/a.ts', text: '' }, { action: 'create', path: 'src/a.ts', text: '' }] },
      'it names src/a.ts in two file operations',
    ],
    [
      { summary: 's', edits: [{ path: 'src/new.ts', old_text: 'a', new_text: 'b' }], files: [{ action: 'create', path: 'src/new.ts', text: 'a' }] },
      'not read in this task',
    ],
    [{ summary: 's', edits: [{ old_text: 'export interface Invoice {', new_text: 'export interface Invoice {' }] }, 'its edits change nothing'],
  ])('refuses the malformed proposal %j', async (input, message) => {
    const error = await refusal(planChange(input, environment()));
    expect(error).toMatchObject({ reason: 'invalidEdit', message: expect.stringContaining(message) });
  });

  it('refuses a change that writes more than edits.maxBytes in all, counting created files', async () => {
    const input = { summary: 's', edits: [{ old_text: 'lines: number[];', new_text: 'lines: number[]; // 20 bytes' }], files: [{ action: 'create', path: 'src/notes.md', text: 'x'.repeat(20) }] };
    await expect(planChange(input, environment({ maxFiles: 20, maxBytes: 48 }))).resolves.toMatchObject({ files: [{ kind: 'editOpen' }, { kind: 'create' }] });
    const error = await refusal(planChange(input, environment({ maxFiles: 20, maxBytes: 47 })));
    expect(error.message).toContain('more than efrit.edits.maxBytes (47 bytes)');
  });

  it('asks for confirmation of a change of several files or with file operations, per edits.confirm', () => {
    const oneEdit: PlannedChange = { summary: '', files: [{ kind: 'editOpen', uri: 'u', displayPath: 'a', baseVersion: 1, baseEpoch: 0, openId: 1, edits: [] }] };
    const create: PlannedChange = { summary: '', files: [{ kind: 'create', uri: 'v', displayPath: 'b', lexicalPath: '/b', text: '' }] };
    const two: PlannedChange = { summary: '', files: [...oneEdit.files, ...create.files] };
    expect([oneEdit, create, two].map((change) => needsConfirmation(change, 'multiFile'))).toEqual([false, true, true]);
    expect([oneEdit, two].map((change) => needsConfirmation(change, 'always'))).toEqual([true, true]);
    expect([oneEdit, two].map((change) => needsConfirmation(change, 'never'))).toEqual([false, false]);
  });
});

describe('building the WorkspaceEdit to send', () => {
  it('sends a file on disk with version null, and with the editor\'s version once it is open with the same text', async () => {
    await tools.run('read_file', { path: 'src/tax.ts' }, undefined, ledger);
    const plan = await planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'export function taxOnly(', new_text: 'export function taxAlone(' }] }, environment());
    const closed = await buildWorkspaceEdit(plan, buildEnvironment());
    const taxUri = pathToFileURL(join(workspace, 'src', 'tax.ts')).href;
    expect(closed.documentChanges).toEqual([{ textDocument: { uri: taxUri, version: null }, edits: [{ range: { start: { line: 6, character: 0 }, end: { line: 6, character: 24 } }, newText: 'export function taxAlone(' }] }]);

    documents.open({ uri: taxUri, languageId: 'typescript', version: 7, text: taxTs });
    const opened = await buildWorkspaceEdit(plan, buildEnvironment());
    expect(opened.documentChanges?.[0]).toMatchObject({ textDocument: { uri: taxUri, version: 7 } });

    documents.change(taxUri, 8, [{ text: `// edited\n${taxTs}` }]);
    const error = await refusal(buildWorkspaceEdit(plan, buildEnvironment()));
    expect(error).toMatchObject({ reason: 'editConflict', message: expect.stringContaining('src/tax.ts was changed in the editor after Efrit read it') });
  });

  it('gives a client without documentChanges the text edits as changes, and refuses file operations to it', async () => {
    const plan = await planChange({ summary: 's', edits: [{ old_text: 'lines: number[];', new_text: 'lines: readonly number[];' }] }, environment());
    const plain = buildEnvironment({ capabilities: { documentChanges: false, resourceOperations: new Set(), changeAnnotations: true } });
    expect(await buildWorkspaceEdit(plan, plain)).toEqual({ changes: { [invoiceUri]: [{ range: { start: { line: 1, character: 2 }, end: { line: 1, character: 18 } }, newText: 'lines: readonly number[];' }] } });

    const creating = await planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/new.ts', text: 'x' }] }, environment());
    expect(await refusal(buildWorkspaceEdit(creating, plain))).toMatchObject({ reason: 'editRejected', message: expect.stringContaining('cannot create files') });
  });

  it('leaves out the files the user rejected, and refuses when none is left', async () => {
    const plan = await planChange(
      { summary: 's', edits: [{ old_text: 'lines: number[];', new_text: 'lines: readonly number[];' }], files: [{ action: 'create', path: 'src/new.ts', text: '' }] },
      environment(),
    );
    const newUri = pathToFileURL(join(workspace, 'src', 'new.ts')).href;
    const withoutNew = await buildWorkspaceEdit(plan, buildEnvironment({ exclude: new Set([newUri]) }));
    expect(withoutNew.documentChanges).toEqual([expect.objectContaining({ textDocument: { uri: invoiceUri, version: 1 } })]);
    // An empty new file is created with no text edit after it.
    const all = await buildWorkspaceEdit(plan, buildEnvironment());
    expect(all.documentChanges?.map((change) => ('kind' in change ? change.kind : 'edit'))).toEqual(['create', 'edit']);
    expect(await refusal(buildWorkspaceEdit(plan, buildEnvironment({ exclude: new Set([newUri, invoiceUri]) })))).toMatchObject({ reason: 'editRejected' });
  });

  it('refuses text the redactor would change, whichever file carries it', async () => {
    const plan = await planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/key.ts', text: 'const key = "sk-secret";' }] }, environment());
    const error = await refusal(buildWorkspaceEdit(plan, buildEnvironment({ refuseText: (text) => (text.includes('sk-secret') ? 'carries the key' : undefined) })));
    expect(error).toMatchObject({ reason: 'invalidEdit', message: 'carries the key' });
  });

  it('refuses a create whose file appeared, and a rename whose source went, while the model wrote', async () => {
    const creating = await planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/new.ts', text: 'x' }] }, environment());
    await writeFile(join(workspace, 'src', 'new.ts'), 'theirs');
    expect(await refusal(buildWorkspaceEdit(creating, buildEnvironment()))).toMatchObject({ reason: 'editConflict', message: expect.stringContaining('src/new.ts was created by someone else') });

    const renaming = await planChange({ summary: 's', edits: [], files: [{ action: 'rename', path: 'src/tax.ts', new_path: 'src/taxes.ts' }] }, environment());
    await rm(join(workspace, 'src', 'tax.ts'));
    expect(await refusal(buildWorkspaceEdit(renaming, buildEnvironment()))).toMatchObject({ reason: 'editConflict', message: expect.stringContaining('src/tax.ts was removed') });
  });
});

describe('file operations and the fields around them', () => {
  const readTax = () => tools.run('read_file', { path: 'src/tax.ts' }, undefined, ledger);
  const taxPath = () => join(workspace, 'src', 'tax.ts');

  it('carries the summary, and makes one of any other type empty', async () => {
    const edit = { old_text: 'lines: number[];', new_text: 'lines: readonly number[];' };
    await expect(planChange({ summary: 'Freeze the lines.', edits: [edit] }, environment())).resolves.toMatchObject({ summary: 'Freeze the lines.' });
    await expect(planChange({ summary: 42, edits: [edit] }, environment())).resolves.toMatchObject({ summary: '' });
  });

  it.each([
    ['null', null],
    ['blank', '  '],
  ])('takes an edit whose path is %s as an edit of the request\'s own document', async (_what, path) => {
    const plan = await planChange({ summary: 's', edits: [{ path, old_text: 'lines: number[];', new_text: 'lines: readonly number[];' }] }, environment());
    expect(plan.files).toEqual([expect.objectContaining({ kind: 'editOpen', uri: invoiceUri })]);
  });

  it.each([
    [{ action: '', path: 'src/a.ts' }, 'file operation 1 has action ""; it must be "create", "rename" or "delete"'],
    [{ action: 'create', text: 'x' }, 'file operation 1 lacks "path"'],
    [{ action: 'rename', path: 'src/tax.ts', new_path: '  ' }, 'file operation 1 (rename src/tax.ts) lacks "new_path"'],
  ])('refuses the file operation %j, saying what it lacks', async (operation, message) => {
    const error = await refusal(planChange({ summary: 's', edits: [], files: [operation] }, environment()));
    expect(error).toMatchObject({ reason: 'invalidEdit', message: expect.stringContaining(message) });
  });

  it('deletes a file it read, guarded by what it read, and refuses to delete one it did not read', async () => {
    const unread = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'delete', path: 'src/tax.ts' }] }, environment()));
    expect(unread).toMatchObject({ reason: 'invalidEdit', message: expect.stringContaining('src/tax.ts') });
    expect(unread.message).toContain('read');

    await readTax();
    const plan = await planChange({ summary: 's', edits: [], files: [{ action: 'delete', path: 'src/tax.ts' }] }, environment());
    expect(plan.files).toEqual([
      { kind: 'delete', uri: pathToFileURL(taxPath()).href, displayPath: 'src/tax.ts', lexicalPath: taxPath(), guard: ledger.get('src/tax.ts')?.origin },
    ]);
  });

  it('refuses to edit and delete the same file, and to create and edit one', async () => {
    await readTax();
    const editAndDelete = await refusal(
      planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'export function taxOnly(', new_text: 'export function taxAlone(' }], files: [{ action: 'delete', path: 'src/tax.ts' }] }, environment()),
    );
    expect(editAndDelete.message).toContain('it both edits and deletes src/tax.ts');
    const createAndEdit = await refusal(
      planChange({ summary: 's', edits: [{ path: 'src/tax.ts', old_text: 'export function taxOnly(', new_text: 'export function taxAlone(' }], files: [{ action: 'create', path: 'src/tax.ts', text: 'x' }] }, environment()),
    );
    expect(createAndEdit.message).toContain('it both creates and edits src/tax.ts; put the whole text in the create');
  });

  it('refuses to create a file that exists, to rename one that does not, or onto one that exists', async () => {
    const create = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/tax.ts', text: 'x' }] }, environment()));
    expect(create).toMatchObject({ reason: 'invalidEdit', message: "The model's change creates src/tax.ts, which already exists; it should edit it instead. Nothing was changed." });

    const missing = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'rename', path: 'src/gone.ts', new_path: 'src/here.ts' }] }, environment()));
    expect(missing).toMatchObject({ reason: 'invalidEdit', message: "The model's change renames src/gone.ts, which does not exist. Nothing was changed." });

    const onto = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'rename', path: 'src/tax.ts', new_path: 'src/invoice.ts' }] }, environment()));
    expect(onto).toMatchObject({ reason: 'invalidEdit', message: "The model's change renames src/tax.ts to src/invoice.ts, which already exists. Nothing was changed." });

    const ontoCreated = await refusal(
      planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/taxes.ts', text: 'x' }, { action: 'rename', path: 'src/tax.ts', new_path: 'src/taxes.ts' }] }, environment()),
    );
    expect(ontoCreated.message).toContain('it renames src/tax.ts onto src/taxes.ts, which it also changes');
  });

  it('creates a file with exactly the text given, an empty one included', async () => {
    const plan = await planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/empty.ts', text: '' }] }, environment());
    expect(plan.files).toEqual([expect.objectContaining({ kind: 'create', displayPath: 'src/empty.ts', text: '' })]);
  });
});

describe('where a change may go', () => {
  it('refuses a file operation outside the workspace, naming the path and why', async () => {
    const error = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'create', path: '../outside.ts', text: 'x' }] }, environment()));
    expect(error).toMatchObject({ reason: 'invalidEdit', message: expect.stringMatching(/^The model's change names \.\.\/outside\.ts, which Efrit may not change: .+ Nothing was changed\.$/) });
  });

  it('refuses to create a file in a folder that is a link out of the workspace', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'efrit-plan-outside-'));
    try {
      await symlink(outside, join(workspace, 'src', 'linked'));
      const error = await refusal(planChange({ summary: 's', edits: [], files: [{ action: 'create', path: 'src/linked/new.ts', text: 'x' }] }, environment()));
      expect(error.message).toContain('its folder leads outside the workspace.');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a change of more files than edits.maxFiles, saying how many', async () => {
    const input = { summary: 's', edits: [{ old_text: 'lines: number[];', new_text: 'lines: readonly number[];' }], files: [{ action: 'create', path: 'src/notes.md', text: 'x' }] };
    await expect(planChange(input, environment({ maxFiles: 2, maxBytes: 1 << 20 }))).resolves.toMatchObject({ files: [{ kind: 'editOpen' }, { kind: 'create' }] });
    const error = await refusal(planChange(input, environment({ maxFiles: 1, maxBytes: 1 << 20 })));
    expect(error).toMatchObject({
      reason: 'invalidEdit',
      message: "The model's change touches 2 files, more than efrit.edits.maxFiles (1); nothing was changed. Ask for a smaller change.",
    });
  });
});
