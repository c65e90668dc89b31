/**
 * efrit/do changing the workspace: edits to several files (open and not),
 * files created, renamed and deleted, as one WorkspaceEdit that lands whole
 * or not at all, checked just before it is sent.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApplyWorkspaceEditParams, ClientCapabilities, CodeAction, CreateFile, TextDocumentEdit } from 'vscode-languageserver-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoResult } from '../../server/src/protocol.js';
import { eventually } from '../support/eventually.js';
import { gate } from '../support/gate.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf, vscodeCapabilities } from '../support/lsp-client.js';

const cartTs = `export function cartTotal(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`;
const checkoutTs = `import { cartTotal } from './cart.js';

export function checkout(prices: number[]): string {
  return \`Total: \${cartTotal(prices)}\`;
}
`;
const receiptTs = `import { cartTotal } from './cart.js';

export function receiptLine(prices: number[]): string {
  return \`\${prices.length} items, \${cartTotal(prices)}\`;
}
`;
const cartTestTs = `import { expect, it } from 'vitest';
import { sumCart } from '../src/cart.js';

it('adds the prices', () => {
  expect(sumCart([1, 2])).toBe(3);
});
`;

/** VS Code's workspace-edit capabilities: everything a multi-file change needs. */
const fullEditCapabilities: ClientCapabilities = {
  ...vscodeCapabilities,
  workspace: {
    ...vscodeCapabilities.workspace,
    workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'], failureHandling: 'textOnlyTransactional', changeAnnotationSupport: { groupsOnLabel: true } },
  },
  textDocument: { ...vscodeCapabilities.textDocument, codeAction: { ...vscodeCapabilities.textDocument?.codeAction, tagSupport: { valueSet: [1] } } as never },
};
/** Eglot 1.9 with resource operations but no change annotations. */
const eglotWithFiles: ClientCapabilities = {
  ...eglotCapabilities,
  workspace: { ...eglotCapabilities.workspace, workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'] } },
};

let workspace: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-multi-'));
  await mkdir(join(workspace, 'src'));
  await mkdir(join(workspace, 'test'));
  await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
  await writeFile(join(workspace, 'src', 'checkout.ts'), checkoutTs);
  await writeFile(join(workspace, 'src', 'receipt.ts'), receiptTs);
});

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await rm(workspace, { recursive: true, force: true });
});

const onDisk = (path: string): Promise<string> => readFile(join(workspace, path), 'utf8');
const uriOf = (path: string): string => pathToFileURL(join(workspace, path)).href;

/** The agent reads checkout.ts (open) and receipt.ts (on disk only), then renames cartTotal everywhere and adds a test. */
const readBoth = { toolUses: [{ name: 'read_document', input: { path: 'src/checkout.ts' } }, { name: 'read_file', input: { path: 'src/receipt.ts' } }] };
const renameEverywhere = {
  summary: 'Rename cartTotal to sumCart and add a test for it.',
  edits: [
    { old_text: 'export function cartTotal(', new_text: 'export function sumCart(' },
    { path: 'src/checkout.ts', old_text: "import { cartTotal } from './cart.js';", new_text: "import { sumCart } from './cart.js';" },
    { path: 'src/checkout.ts', old_text: '${cartTotal(prices)}`;\n}', new_text: '${sumCart(prices)}`;\n}' },
    { path: 'src/receipt.ts', old_text: "import { cartTotal } from './cart.js';", new_text: "import { sumCart } from './cart.js';" },
    { path: 'src/receipt.ts', old_text: '${cartTotal(prices)}', new_text: '${sumCart(prices)}' },
  ],
  files: [{ action: 'create', path: 'test/cart.test.ts', text: cartTestTs }],
};
const renamed = (text: string): string => text.replaceAll('cartTotal', 'sumCart');

/**
 * Starts the rename in an editor with file operations, held after the agent
 * read the files: the test changes what it wants, then opens `proposal`.
 */
async function renameHeldAfterReading() {
  harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles });
  const { client, fake } = harness;
  const proposal = gate();
  fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }], hold: { until: proposal.opened } });
  const cart = await client.open('src/cart.ts', cartTs);
  const checkout = await client.open('src/checkout.ts', checkoutTs);
  const pending = client.request<DoResult>('efrit/do', { instruction: 'rename cartTotal to sumCart everywhere', textDocument: { uri: cart } });
  await eventually(() => (fake.requests.length === 2 ? true : undefined), 'the agent read the files and asked the model again');
  return { client, proposal, cart, checkout, pending };
}

describe('a change across files from efrit/do', () => {
  it('edits open and unopened files and creates a test file, as one annotated WorkspaceEdit', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: fullEditCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }] });
    const cart = await client.open('src/cart.ts', cartTs);
    const checkout = await client.open('src/checkout.ts', checkoutTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'rename cartTotal to sumCart everywhere and add a test', textDocument: { uri: cart } });

    expect(result).toMatchObject({ applied: true, steps: 2, summary: renameEverywhere.summary });
    expect(result.files).toEqual([
      { uri: cart, path: 'src/cart.ts', kind: 'edit' },
      { uri: checkout, path: 'src/checkout.ts', kind: 'edit' },
      { uri: uriOf('src/receipt.ts'), path: 'src/receipt.ts', kind: 'edit' },
      { uri: uriOf('test/cart.test.ts'), path: 'test/cart.test.ts', kind: 'create' },
    ]);
    await client.waitFor(() => client.text(cart) === renamed(cartTs) && client.text(checkout) === renamed(checkoutTs), 'the open documents edited');
    expect(await onDisk('src/receipt.ts')).toBe(renamed(receiptTs));
    expect(await onDisk('test/cart.test.ts')).toBe(cartTestTs);

    expect(client.appliedEdits).toHaveLength(1);
    const sent = client.appliedEdits[0]?.edit;
    expect(sent?.changeAnnotations).toEqual({ efrit: { label: 'Efrit', description: renameEverywhere.summary, needsConfirmation: true } });
    const kinds = sent?.documentChanges?.map((change) => ('textDocument' in change ? `edit ${change.textDocument.uri} v${String(change.textDocument.version)}` : `${change.kind}`));
    // The file is created before its text is inserted; an open document carries its version, a file on disk none.
    expect(kinds).toEqual(['create', `edit ${uriOf('test/cart.test.ts')} vnull`, `edit ${cart} v1`, `edit ${checkout} v1`, `edit ${uriOf('src/receipt.ts')} vnull`]);
    for (const change of sent?.documentChanges ?? []) {
      if ('textDocument' in change) for (const edit of change.edits) expect(edit).toMatchObject({ annotationId: 'efrit' });
      else expect(change).toMatchObject({ annotationId: 'efrit' });
    }
    expect((sent?.documentChanges?.[0] as CreateFile).options).toEqual({ overwrite: false, ignoreIfExists: false });
  });

  it('tags Efrit code actions as LLM-generated for a client that knows the tag, and only then', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: fullEditCapabilities });
    const uri = await harness.client.open('src/cart.ts', cartTs);
    const actions = await harness.client.codeActions(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action).toMatchObject({ tags: [1] });
    await harness.stop();

    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotCapabilities });
    const plainUri = await harness.client.open('src/cart.ts', cartTs);
    const plain = await harness.client.codeActions(plainUri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
    for (const action of plain) expect(action).not.toHaveProperty('tags');
  });

  it('refuses the whole change when a file it read changed on disk meanwhile, and applies nothing', async () => {
    const { client, proposal, cart, checkout, pending } = await renameHeldAfterReading();
    // Someone else saves receipt.ts while the model writes: its lines are no longer where the agent read them.
    const theirs = `// formatted by someone else\n${receiptTs}`;
    await writeFile(join(workspace, 'src', 'receipt.ts'), theirs);
    proposal.open();

    await expect(pending).rejects.toMatchObject({ data: { reason: 'editConflict' }, message: expect.stringContaining('src/receipt.ts changed on disk after Efrit read it') });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(cart)).toBe(cartTs);
    expect(client.text(checkout)).toBe(checkoutTs);
    expect(await onDisk('src/receipt.ts')).toBe(theirs);
    expect(existsSync(join(workspace, 'test', 'cart.test.ts'))).toBe(false);
  });

  it('refuses the change, reading no more than read_file would, when a file it read grew past the read limit meanwhile', async () => {
    const { client, proposal, cart, pending } = await renameHeldAfterReading();
    const grown = `${receiptTs}${'// padding\n'.repeat(100_000)}`;
    await writeFile(join(workspace, 'src', 'receipt.ts'), grown);
    proposal.open();

    await expect(pending).rejects.toMatchObject({ data: { reason: 'editConflict' }, message: expect.stringContaining('src/receipt.ts is gone or can no longer be read') });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(cart)).toBe(cartTs);
    expect(await onDisk('src/receipt.ts')).toBe(grown);
  });

  it('refuses the whole change when the user edits an open file where the change lands, and applies nothing', async () => {
    const { client, proposal, cart, checkout, pending } = await renameHeldAfterReading();
    await client.edit(checkout, "import { cartTotal } from './cart.js';", "import { cartTotal, type Cart } from './cart.js';");
    proposal.open();

    await expect(pending).rejects.toMatchObject({ data: { reason: 'editConflict' }, message: expect.stringContaining('src/checkout.ts') });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(cart)).toBe(cartTs);
    expect(await onDisk('src/receipt.ts')).toBe(receiptTs);
    expect(existsSync(join(workspace, 'test', 'cart.test.ts'))).toBe(false);
  });

  it('carries the change over typing elsewhere in an open file it read', async () => {
    const { client, proposal, checkout, pending } = await renameHeldAfterReading();
    await client.change(checkout, { start: { line: 5, character: 0 }, end: { line: 5, character: 0 } }, '// end of checkout\n');
    proposal.open();

    await expect(pending).resolves.toMatchObject({ applied: true });
    await client.waitFor(() => client.text(checkout) === `${renamed(checkoutTs)}// end of checkout\n`, 'the rebased edit');
  });

  it('refuses a change that creates a file for an editor without resource operations, naming the file', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }] });
    const cart = await client.open('src/cart.ts', cartTs);
    await client.open('src/checkout.ts', checkoutTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'rename it and add a test', textDocument: { uri: cart } })).rejects.toMatchObject({
      data: { reason: 'editRejected' },
      message: expect.stringMatching(/cannot create files.*test\/cart\.test\.ts; nothing was changed/),
    });
    expect(client.appliedEdits).toHaveLength(0);
    expect(await onDisk('src/receipt.ts')).toBe(receiptTs);
  });

  it('sends an edit to a file the agent has not read back to the model, which reads it and proposes again', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles });
    const { client, fake } = harness;
    const receiptOnly = { summary: 'Rename in receipt.ts.', edits: [{ path: 'src/receipt.ts', old_text: '${cartTotal(prices)}', new_text: '${sumCart(prices)}' }] };
    fake.queueReplies(
      { toolUses: [{ name: 'propose_edits', input: receiptOnly }] },
      { toolUses: [{ name: 'read_file', input: { path: 'src/receipt.ts' } }] },
      { toolUses: [{ name: 'propose_edits', input: receiptOnly }] },
    );
    const cart = await client.open('src/cart.ts', cartTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'use sumCart in receipt.ts', textDocument: { uri: cart } });

    expect(result).toMatchObject({ applied: true, steps: 3 });
    const refusal = JSON.stringify(fake.requests[1]?.body.messages.at(-1));
    expect(refusal).toContain('src/receipt.ts, which it has not read in this task');
    expect(refusal).toContain('"is_error":true');
    expect(await onDisk('src/receipt.ts')).toBe(receiptTs.replace('${cartTotal(prices)}', '${sumCart(prices)}'));
  });

  it('ends with the refusal when the steps run out, applying nothing', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles, initializationOptions: { agent: { maxSteps: 1 } } });
    const { client, fake } = harness;
    fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'x', edits: [{ path: 'src/receipt.ts', old_text: 'cartTotal', new_text: 'sumCart' }] } }] });
    const cart = await client.open('src/cart.ts', cartTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'rename', textDocument: { uri: cart } })).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringContaining('src/receipt.ts, which it has not read'),
    });
    expect(client.appliedEdits).toHaveLength(0);
  });

  it.each([
    ['a path outside the workspace', { action: 'create', path: '../escaped.ts', text: 'x' }, /may not change/],
    ['a secret-looking file', { action: 'create', path: '.env.local', text: 'TOKEN=1' }, /may not change/],
    ['a folder that is a symlink out of the workspace', { action: 'create', path: 'linked/evil.ts', text: 'x' }, /its folder leads outside the workspace/],
    ['a file that already exists', { action: 'create', path: 'src/receipt.ts', text: 'x' }, /already exists/],
    ['a rename onto an existing file', { action: 'rename', path: 'src/receipt.ts', new_path: 'src/checkout.ts' }, /already exists/],
    ['a delete of a file it never read', { action: 'delete', path: 'src/receipt.ts' }, /has not read/],
  ])('refuses a file operation on %s', async (_what, operation, message) => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'efrit-multi-outside-'));
    await symlink(elsewhere, join(workspace, 'linked'));
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles, initializationOptions: { agent: { maxSteps: 1 } } });
    const { client, fake } = harness;
    fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'x', edits: [], files: [operation] } }] });
    const cart = await client.open('src/cart.ts', cartTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'do it', textDocument: { uri: cart } })).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringMatching(message),
    });
    expect(client.appliedEdits).toHaveLength(0);
    expect(existsSync(join(elsewhere, 'evil.ts'))).toBe(false);
    expect(existsSync(join(workspace, '..', 'escaped.ts'))).toBe(false);
    await rm(elsewhere, { recursive: true, force: true });
  });

  it('renames and deletes files it read', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles });
    const { client, fake } = harness;
    fake.queueReplies(
      { toolUses: [{ name: 'read_file', input: { path: 'src/receipt.ts' } }] },
      {
        toolUses: [
          {
            name: 'propose_edits',
            input: { summary: 'Move checkout, drop receipt.', edits: [], files: [{ action: 'rename', path: 'src/checkout.ts', new_path: 'src/pay.ts' }, { action: 'delete', path: 'src/receipt.ts' }] },
          },
        ],
      },
    );
    const cart = await client.open('src/cart.ts', cartTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'tidy up', textDocument: { uri: cart } });

    expect(result.files).toEqual([
      { uri: uriOf('src/checkout.ts'), path: 'src/checkout.ts', kind: 'rename', newUri: uriOf('src/pay.ts'), newPath: 'src/pay.ts' },
      { uri: uriOf('src/receipt.ts'), path: 'src/receipt.ts', kind: 'delete' },
    ]);
    expect(await onDisk('src/pay.ts')).toBe(checkoutTs);
    expect(existsSync(join(workspace, 'src', 'checkout.ts'))).toBe(false);
    expect(existsSync(join(workspace, 'src', 'receipt.ts'))).toBe(false);
  });

  it('refuses a change over efrit.edits.maxFiles', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles, initializationOptions: { agent: { maxSteps: 2 }, edits: { maxFiles: 3 } } });
    const { client, fake } = harness;
    fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }] });
    const cart = await client.open('src/cart.ts', cartTs);
    await client.open('src/checkout.ts', checkoutTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'rename', textDocument: { uri: cart } })).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringContaining('touches 4 files, more than efrit.edits.maxFiles (3)'),
    });
    expect(client.appliedEdits).toHaveLength(0);
  });

  it.each([
    // An editor that checks the whole edit first and refuses it: nothing changed.
    ['could not apply', 'the file is read-only', false, 'Nothing was changed.'],
    // An editor with failureHandling "abort": it creates the test file, then fails on receipt.ts and stops there.
    ['stopped part-way through', 'the disk is full', true, 'The editor applied part of it before it stopped: check test/cart.test.ts.'],
  ])('names the file of the change an editor %s, and what it had already changed', async (_what, failureReason, createdFirst, left) => {
    const refuseAtReceipt = (params: ApplyWorkspaceEditParams) => {
      if (createdFirst) writeFileSync(join(workspace, 'test', 'cart.test.ts'), cartTestTs);
      const index = params.edit.documentChanges?.findIndex((change) => 'textDocument' in change && change.textDocument.uri.endsWith('receipt.ts')) ?? -1;
      return { applied: false, failureReason, failedChange: index };
    };
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles, onApplyEdit: refuseAtReceipt });
    const { client, fake } = harness;
    fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }] });
    const cart = await client.open('src/cart.ts', cartTs);
    await client.open('src/checkout.ts', checkoutTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'rename', textDocument: { uri: cart } })).rejects.toMatchObject({
      data: { reason: 'editRejected' },
      message: `The editor did not apply the change: ${failureReason} (at src/receipt.ts). ${left}`,
    });
  });
});

describe('"Write tests" in a file of its own', () => {
  it.each([
    ['an editor that can create files', eglotWithFiles, 'in a new test file'],
    ['an editor that cannot', eglotCapabilities, 'and insert them after the selected code.'],
  ])('asks the model for the place %s can take', async (_what, capabilities, asked) => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities });
    const { client, fake } = harness;
    fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'Tests for sumCart.', edits: [], files: [{ action: 'create', path: 'src/cart.test.ts', text: cartTestTs }] } }] });
    const cart = await client.open('src/cart.ts', cartTs);
    const actions = (await client.codeActions(cart, rangeOf(cartTs, 'cartTotal'))) as CodeAction[];
    const writeTests = actions.find((action) => action.title === 'Efrit: Write tests');

    const run = client.executeCommand('efrit.runAction', writeTests?.command?.arguments?.[0]);

    if (capabilities === eglotWithFiles) {
      await expect(run).resolves.toMatchObject({ applied: true, text: 'Tests for sumCart.' });
      expect(await onDisk('src/cart.test.ts')).toBe(cartTestTs);
    } else {
      await expect(run).rejects.toMatchObject({ data: { reason: 'editRejected' } });
      expect(existsSync(join(workspace, 'src', 'cart.test.ts'))).toBe(false);
    }
    expect(JSON.stringify(fake.requests[0]?.body.messages)).toContain(asked);
  });
});

describe('reviewing a change in the client before it lands', () => {
  /** The rename, asked with apply: false as a reviewing client asks; `then` answers the turn after it. */
  async function renameForReview(then: string) {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles });
    const { client, fake } = harness;
    fake.queueReplies(readBoth, { toolUses: [{ name: 'propose_edits', input: renameEverywhere }] }, { text: then });
    const cart = await client.open('src/cart.ts', cartTs);
    const checkout = await client.open('src/checkout.ts', checkoutTs);
    const review = await client.request<DoResult>('efrit/do', { instruction: 'rename cartTotal to sumCart', textDocument: { uri: cart }, apply: false });
    return { client, fake, cart, checkout, review };
  }

  it('returns the change unapplied, then applies all but the files the user rejected', async () => {
    const { client, fake, cart, checkout, review } = await renameForReview('Noted.');
    expect(review).toMatchObject({ applied: false });
    expect(review.files.map((file) => file.path)).toEqual(['src/cart.ts', 'src/checkout.ts', 'src/receipt.ts', 'test/cart.test.ts']);
    expect(review.edit?.documentChanges).toHaveLength(5);
    expect(client.appliedEdits).toHaveLength(0);
    expect(existsSync(join(workspace, 'test', 'cart.test.ts'))).toBe(false);

    const applied = await client.executeCommand('efrit.applyJob', { jobId: review.jobId, exclude: [uriOf('test/cart.test.ts')] });
    expect(applied).toEqual({ applied: true });
    await client.waitFor(() => client.text(checkout) === renamed(checkoutTs), 'the accepted change');
    expect(await onDisk('src/receipt.ts')).toBe(renamed(receiptTs));
    expect(existsSync(join(workspace, 'test', 'cart.test.ts'))).toBe(false);
    const sent = client.appliedEdits[0]?.edit.documentChanges as TextDocumentEdit[];
    expect(sent.map((change) => change.textDocument.uri)).toEqual([cart, checkout, uriOf('src/receipt.ts')]);

    // The model learns what the user did, at the head of the next turn.
    await client.request('efrit/chat', { sessionId: review.sessionId, message: 'thanks' });
    expect(JSON.stringify(fake.requests[2]?.body.messages.at(-1))).toContain('except to test/cart.test.ts, which the user rejected in review');
  });

  it('applies nothing when the user rejects the change, and tells the model', async () => {
    const { client, fake, cart, checkout, review } = await renameForReview('Understood.');
    expect(await client.executeCommand('efrit.rejectJob', { jobId: review.jobId })).toEqual({ rejected: true });

    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(cart)).toBe(cartTs);
    expect(client.text(checkout)).toBe(checkoutTs);
    expect(await onDisk('src/receipt.ts')).toBe(receiptTs);
    await client.request('efrit/chat', { sessionId: review.sessionId, message: 'why not?' });
    expect(JSON.stringify(fake.requests[2]?.body.messages.at(-1))).toContain('The user rejected the change in review; nothing was applied.');
  });

  it('refuses at accept time a change whose file changed on disk during the review', async () => {
    const { client, cart, review } = await renameForReview('unused');
    await writeFile(join(workspace, 'src', 'receipt.ts'), `${receiptTs}// more\n`);

    await expect(client.executeCommand('efrit.applyJob', { jobId: review.jobId })).rejects.toMatchObject({
      data: { reason: 'editConflict' },
      message: expect.stringContaining('src/receipt.ts changed on disk after Efrit read it'),
    });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(cart)).toBe(cartTs);
  });

  it('refuses malformed review arguments and unknown jobs with a clear error', async () => {
    harness = await startHarness({ workspaceFolder: workspace, capabilities: eglotWithFiles });
    const { client } = harness;
    await expect(client.executeCommand('efrit.applyJob', { jobId: 'j1', exclude: 'src/a.ts' })).rejects.toMatchObject({
      message: expect.stringContaining('"exclude" must be a list of at most 1000 strings'),
    });
    await expect(client.executeCommand('efrit.rejectJob', { jobId: 'nope' })).rejects.toMatchObject({ data: { reason: 'unknownJob' } });
    await expect(client.executeCommand('efrit.rejectJob', {})).rejects.toMatchObject({ message: expect.stringContaining('"jobId" must be a non-empty string') });
  });
});
