import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction, Command } from 'vscode-languageserver-protocol';
import type { RunActionResult } from '../../server/src/protocol.js';
import { typoDiagnostic, typoFix } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf } from '../support/lsp-client.js';
import { gate } from '../support/gate.js';


const asActions = (items: (CodeAction | Command)[]): CodeAction[] => items as CodeAction[];

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

describe('listing code actions', () => {
  it('offers a Fix per diagnostic and the built-in actions, lazily for clients that resolve', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;

    const actions = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    expect(actions.map((a) => a.title)).toEqual([
      "Efrit: Fix: Cannot find name 'treshold'. Did you mean 'threshold'?",
      'Efrit: Explain',
      'Efrit: Rewrite…',
      'Efrit: Add documentation',
      'Efrit: Write tests',
    ]);
    const fix = actions[0] as CodeAction;
    expect(fix.kind).toBe('quickfix');
    expect(fix.diagnostics).toEqual([diagnostic]);
    expect(fix.edit).toBeUndefined();
    expect(fix.command).toBeUndefined();
    expect(fix.data).toMatchObject({ actionId: 'fix', uri });
    // Explain has no edit to resolve, so it is a command even here.
    expect(actions[1]?.command?.command).toBe('efrit.runAction');
    expect(fake.requests).toHaveLength(0);
  });

  it('gives clients without resolve support (eglot 1.9) a command on every action', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    const actions = asActions(await harness.client.codeActions(uri, rangeOf(inventoryTs, 'restock')));
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      expect(action.command?.command).toBe('efrit.runAction');
      expect(action.data).toBeUndefined();
    }
  });

  it('honours context.only and lists user actions from settings', async () => {
    harness = await startHarness({
      initializationOptions: { actions: [{ id: 'strict-types', title: 'Tighten types', prompt: 'Replace loose types with precise ones.' }] },
    });
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    const range = rangeOf(inventoryTs, 'restock');
    const rewrites = asActions(await harness.client.codeActions(uri, range, [], ['refactor.rewrite']));
    expect(rewrites.map((a) => a.title)).toEqual(['Efrit: Explain', 'Efrit: Rewrite…', 'Efrit: Add documentation', 'Efrit: Write tests', 'Efrit: Tighten types']);
    const quickfixes = await harness.client.codeActions(uri, range, [], ['quickfix']);
    expect(quickfixes).toEqual([]);
  });

  it('lists Explain under refactor.rewrite, where VS Code shows it with Rewrite, and still under refactor.explain for clients that ask for that', async () => {
    harness = await startHarness();
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    const range = rangeOf(inventoryTs, 'restock');

    const explainOf = async (only?: string[]): Promise<CodeAction | undefined> =>
      asActions(await harness!.client.codeActions(uri, range, [], only)).find((action) => action.title === 'Efrit: Explain');

    expect((await explainOf())?.kind).toBe('refactor.rewrite.explain');
    expect((await explainOf(['refactor']))?.kind).toBe('refactor.rewrite.explain');
    expect((await explainOf(['refactor.rewrite']))?.kind).toBe('refactor.rewrite.explain');
    // The kind clients knew Explain by: listed under the kind asked for, since clients filter answers by it too.
    expect(await harness.client.codeActions(uri, range, [], ['refactor.explain'])).toEqual([
      expect.objectContaining({ title: 'Efrit: Explain', kind: 'refactor.explain', command: expect.objectContaining({ command: 'efrit.runAction' }) }),
    ]);
    expect(harness.client.initializeResult.capabilities.codeActionProvider).toMatchObject({
      codeActionKinds: expect.arrayContaining(['quickfix', 'refactor.rewrite', 'refactor.explain']),
    });
  });

  describe('automatic and invoked requests', () => {
    const listed = async (triggerKind: number | undefined, diagnostics = [typoDiagnostic]): Promise<string[]> => {
      const uri = await harness!.client.open('src/inventory.ts', inventoryTs);
      const context = { diagnostics, ...(triggerKind === undefined ? {} : { triggerKind }) };
      const actions = await harness!.client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range: typoDiagnostic.range, context });
      return actions.map((action) => action.title);
    };
    const everything = [
      "Efrit: Fix: Cannot find name 'treshold'. Did you mean 'threshold'?",
      'Efrit: Explain',
      'Efrit: Rewrite…',
      'Efrit: Add documentation',
      'Efrit: Write tests',
    ];

    it('offers only the fix for the diagnostics in range when the editor asks by itself (triggerKind Automatic)', async () => {
      harness = await startHarness();
      expect(await listed(2)).toEqual(["Efrit: Fix: Cannot find name 'treshold'. Did you mean 'threshold'?"]);
    });

    it('offers nothing on an automatic request where there is no diagnostic, so no light bulb shows on every line', async () => {
      harness = await startHarness();
      expect(await listed(2, [])).toEqual([]);
    });

    it('offers every action when the user asks (triggerKind Invoked)', async () => {
      harness = await startHarness();
      expect(await listed(1)).toEqual(everything);
    });

    it('offers every action to clients that send no triggerKind (eglot, Neovim 0.7)', async () => {
      harness = await startHarness({ capabilities: eglotCapabilities });
      expect(await listed(undefined)).toEqual(everything);
    });

    it('refuses a triggerKind that is not a number, naming the field', async () => {
      harness = await startHarness();
      await expect(listed('automatic' as unknown as number)).rejects.toThrow(/context\.triggerKind/);
    });
  });

  it('refuses a range outside the document with a message naming it', async () => {
    harness = await startHarness();
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    const beyond = { start: { line: 400, character: 0 }, end: { line: 401, character: 0 } };
    await expect(harness.client.codeActions(uri, beyond)).rejects.toThrow(/outside the document/);
  });
});

describe('picking an action', () => {
  it('resolves a Fix into a versioned edit from the model and the client applies it', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies(typoFix);
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;
    const [fix] = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);

    const change = resolved.edit?.documentChanges?.[0];
    expect(change).toMatchObject({ textDocument: { uri, version: 1 } });
    expect(fake.requests).toHaveLength(1);
    const prompt = JSON.stringify(fake.requests[0]?.body.messages);
    expect(prompt).toContain("Cannot find name 'treshold'");
    expect(fake.requests[0]?.body.tool_choice).toEqual({ type: 'tool', name: 'propose_edits' });
    expect(fake.requests[0]?.body).not.toHaveProperty('temperature');
  });

  it('runs the command path for eglot-like clients and applies the edit with workspace/applyEdit', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(typoFix);
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;
    const [fix] = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    const result = await client.executeCommand<RunActionResult>(fix?.command?.command ?? '', fix?.command?.arguments?.[0]);

    expect(result.applied).toBe(true);
    await client.waitFor(() => !client.text(uri).includes('treshold'), 'the fix in the buffer');
    expect(client.text(uri)).toBe(inventoryTs.replace('item.stock < treshold', 'item.stock < threshold'));
    const serverCopy = await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } });
    expect(serverCopy.text).toBe(client.text(uri));
  });

  it('hands a slow resolve over to efrit.applyJob and never starts the job twice', async () => {
    harness = await startHarness({ initializationOptions: { codeActions: { resolveBudgetMs: 50 } } });
    const { client, fake } = harness;
    // The model answers only once the handover has been seen: the resolve budget runs out first, whatever the machine's speed.
    const reply = gate();
    fake.queueReplies({ ...typoFix, hold: { until: reply.opened } });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;
    const [fix] = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);
    expect(resolved.edit).toBeUndefined();
    expect(resolved.command?.command).toBe('efrit.applyJob');
    // Resolving the same action again joins the running job.
    const again = await client.request<CodeAction>('codeAction/resolve', fix);
    expect(again.command?.arguments).toEqual(resolved.command?.arguments);
    reply.open();

    const applied = await client.executeCommand<{ applied: boolean }>('efrit.applyJob', resolved.command?.arguments?.[0]);

    expect(applied).toEqual({ applied: true });
    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    expect(fake.requests).toHaveLength(1);
  });

  it('rebases the edit onto text the user typed elsewhere while the model worked', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const reply = gate();
    fake.queueReplies({ ...typoFix, hold: { until: reply.opened } });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;
    const [fix] = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    const resolving = client.request<CodeAction>('codeAction/resolve', fix);
    await fake.waitForRequests(1);
    await client.edit(uri, 'export interface Item {', '/** A product line in the warehouse. */\nexport interface Item {');
    await client.settled();
    reply.open();
    const resolved = await resolving;

    const change = resolved.edit?.documentChanges?.[0] as { textDocument: { version: number }; edits: { range: unknown }[] };
    expect(change.textDocument.version).toBe(2);
    expect(change.edits[0]?.range).toEqual(rangeOf(client.text(uri), '  return items.filter((item) => item.stock < treshold);'));
  });

  it('refuses an edit that overlaps what the user typed meanwhile, and changes nothing', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const reply = gate();
    fake.queueReplies({ ...typoFix, hold: { until: reply.opened } });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = typoDiagnostic;
    const [fix] = asActions(await client.codeActions(uri, diagnostic.range, [diagnostic]));

    const running = client.executeCommand<RunActionResult>('efrit.runAction', fix?.command?.arguments?.[0]);
    await fake.waitForRequests(1);
    await client.edit(uri, 'item.stock < treshold', 'item.stock <= treshold');
    const typed = client.text(uri);
    await client.settled();
    reply.open();

    await expect(running).rejects.toMatchObject({ code: -32801, message: expect.stringMatching(/overlaps your change/) });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(typed);
  });

  it('turns a reply that quotes code which is not there into an error, not an edit', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(editReply([{ old_text: 'return items.filter((x) => x.qty < limit);', new_text: 'return [];' }]));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [, , rewrite] = asActions(await client.codeActions(uri, rangeOf(inventoryTs, 'lowStock')));

    await expect(client.executeCommand('efrit.runAction', rewrite?.command?.arguments?.[0])).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringMatching(/not in src\/inventory\.ts/),
    });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('reports an edit the editor declined, and leaves the buffer as it was', async () => {
    harness = await startHarness({
      capabilities: eglotCapabilities,
      onApplyEdit: () => ({ applied: false, failureReason: 'the buffer is read-only' }),
    });
    const { client, fake } = harness;
    fake.queueReplies(typoFix);
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = asActions(await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic]));

    await expect(client.executeCommand('efrit.runAction', fix?.command?.arguments?.[0])).rejects.toMatchObject({
      data: { reason: 'editRejected' },
      message: 'The editor did not apply the edit: the buffer is read-only. Nothing was changed.',
    });
    expect(client.appliedEdits).toHaveLength(1);
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('refuses an answer cut off at maxTokens', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies({ ...typoFix, stopReason: 'max_tokens' });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [, , rewrite] = asActions(await client.codeActions(uri, rangeOf(inventoryTs, 'lowStock')));
    await expect(client.executeCommand('efrit.runAction', rewrite?.command?.arguments?.[0])).rejects.toMatchObject({
      data: { reason: 'incomplete' },
    });
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('streams an explanation and returns it as the command result', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['`restock` returns a copy ', 'of the item with more stock; ', 'the original is left alone.'] });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const explain = asActions(await client.codeActions(uri, rangeOf(inventoryTs, 'restock'))).find((a) => a.title === 'Efrit: Explain');

    const result = await client.executeCommand<RunActionResult>('efrit.runAction', explain?.command?.arguments?.[0]);

    expect(result).toMatchObject({ applied: false, text: '`restock` returns a copy of the item with more stock; the original is left alone.' });
    await client.waitFor(() => client.streams.some((s) => s.jobId === result.jobId && s.kind === 'done'), 'the done note');
    expect(client.streamedText(result.jobId)).toBe(result.text);
    // Every note names the action and the file, for a client that shows the job under a heading of its own.
    expect(new Set(client.streams.filter((s) => s.jobId === result.jobId).map((s) => s.title))).toEqual(new Set(['Efrit: Explain · src/inventory.ts']));
    // $/progress end follows the token's creation, so it may land just after the done note.
    await client.waitFor(() => client.progress.at(-1)?.value.kind === 'end', 'the progress end');
    expect(client.progress[0]?.value.kind).toBe('begin');
  });

  it('names an unknown action id', async () => {
    harness = await startHarness();
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    await expect(
      harness.client.executeCommand('efrit.runAction', { actionId: 'summon', textDocument: { uri }, range: rangeOf(inventoryTs, 'restock') }),
    ).rejects.toMatchObject({ code: -32602, message: expect.stringMatching(/no Efrit action "summon"/) });
  });
});
