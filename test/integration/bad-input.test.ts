/**
 * Whatever a client sends, the server answers with an error that names the
 * problem, or survives it and says so in the log; it never stops serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { allCommands, type ChatResult, type DocumentTextResult, type StatusResult } from '../../server/src/protocol.js';
import { inventoryTs } from '../fixtures/samples.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, positionOf, rangeOf, type TestClient } from '../support/lsp-client.js';
import { gate } from '../support/gate.js';

/** JSON-RPC `InvalidParams`. */
const invalidParams = -32602;
/** `window/logMessage` type for warnings. */
const warning = 2;

const inventoryLines = inventoryTs.split('\n').length;

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

function expectInvalid(request: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  return expect(request).rejects.toMatchObject({ code: invalidParams, data: { reason }, message: expect.stringMatching(message) });
}

async function expectChatWorks(h: Harness): Promise<void> {
  h.fake.queueReplies({ text: 'Still here.' });
  const result = await h.client.request<ChatResult>('efrit/chat', { message: 'Are you there?' });
  expect(result.reply).toBe('Still here.');
}

function serverText(client: TestClient, uri: string): Promise<DocumentTextResult> {
  return client.request<DocumentTextResult>('efrit/documentText', { textDocument: { uri } });
}

function statusWhen(client: TestClient, predicate: (status: StatusResult) => boolean, what: string): Promise<StatusResult> {
  return client.statusUntil(predicate, what);
}

const warnings = (client: TestClient): string[] => client.logMessages.filter((m) => m.type === warning).map((m) => m.message);

describe('malformed parameters', () => {
  it('names the missing or mistyped field', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);

    await expectInvalid(client.request('efrit/chat', {}), 'invalidParams', /efrit\/chat: "message" must be a non-empty string/);
    await expectInvalid(client.request('efrit/chat', { message: 42 }), 'invalidParams', /"message" must be a non-empty string/);
    await expectInvalid(
      client.request('efrit/chat', { message: 'Why?', textDocument: { uri }, range: { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } } }),
      'invalidParams',
      /"range" must be a range .*non-negative/,
    );
    const backwards = { start: positionOf(inventoryTs, 'restock'), end: positionOf(inventoryTs, 'lowStock') };
    await expectInvalid(client.request('efrit/chat', { message: 'Why?', textDocument: { uri }, range: backwards }), 'invalidParams', /"range" ends before it starts/);
    await expectInvalid(client.request('efrit/do', { textDocument: { uri } }), 'invalidParams', /efrit\/do: "instruction"/);
    await expectInvalid(client.request('efrit/do', { instruction: 'Tidy up' }), 'invalidParams', /efrit\/do: "textDocument" \(\{ uri \}\) is required/);
    await expectInvalid(
      client.executeCommand('efrit.runAction', { actionId: 'explain', textDocument: { uri } }),
      'invalidParams',
      /efrit\.runAction: "range" is required/,
    );
    await expectInvalid(client.request('efrit/cancel', { jobId: 7 }), 'invalidParams', /efrit\/cancel: "jobId" must be a string/);

    expect(fake.requests).toHaveLength(0);
    await expectChatWorks(harness);
  });

  it('refuses parameters that are not an object', async () => {
    harness = await startHarness();
    const { client } = harness;

    for (const params of ['hello', 42, null, [{ message: 'in a list' }]]) {
      await expectInvalid(client.request('efrit/chat', params), 'invalidParams', /efrit\/chat: expected an object of parameters/);
    }
    await expectInvalid(client.executeCommand('efrit.chat', 'hello'), 'invalidParams', /expected an object of parameters/);

    await expectChatWorks(harness);
  });
});

describe('references to things that are not there', () => {
  it('says a document is not open, naming it, for chat, do and actions', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = client.uriOf('src/never-opened.ts');
    const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 5 } };
    const notOpen = new RegExp(`${uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not open`);

    await expectInvalid(client.request('efrit/chat', { message: 'What is this?', textDocument: { uri }, range }), 'documentNotOpen', notOpen);
    await expectInvalid(client.request('efrit/do', { instruction: 'Tidy up', textDocument: { uri } }), 'documentNotOpen', notOpen);
    await expectInvalid(client.executeCommand('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range }), 'documentNotOpen', notOpen);
    await expectInvalid(serverText(client, uri), 'documentNotOpen', notOpen);

    expect(fake.requests).toHaveLength(0);
    await expectChatWorks(harness);
  });

  it("refuses a range outside the document, naming the document's size", async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const pastTheEnd = { start: { line: 400, character: 0 }, end: { line: 401, character: 0 } };
    const linesMessage = new RegExp(`outside the document \\(it has ${inventoryLines} lines\\)`);

    await expectInvalid(client.request('efrit/chat', { message: 'Why?', textDocument: { uri }, range: pastTheEnd }), 'rangeOutOfBounds', linesMessage);
    await expectInvalid(client.request('efrit/do', { instruction: 'Tidy up', textDocument: { uri }, range: pastTheEnd }), 'rangeOutOfBounds', linesMessage);
    await expectInvalid(client.executeCommand('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range: pastTheEnd }), 'rangeOutOfBounds', linesMessage);
    expect(fake.requests).toHaveLength(0);
    // A character past the end of a line is the line's end (LSP spec), not an error.
    fake.queueReplies({ text: 'It declares the Item shape.' });
    const line = positionOf(inventoryTs, 'export interface Item {').line;
    const pastTheLine = { start: { line, character: 0 }, end: { line, character: 80 } };
    await expect(client.request('efrit/chat', { message: 'Why?', textDocument: { uri }, range: pastTheLine })).resolves.toMatchObject({
      reply: 'It declares the Item shape.',
    });
    await expectChatWorks(harness);
  });

  it('names an unknown session, an unknown job and an unknown command', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);

    await expectInvalid(client.request('efrit/chat', { sessionId: 'no-such-session', message: 'Hello again' }), 'unknownSession', /no-such-session has ended or expired/);
    await expectInvalid(
      client.request('efrit/do', { sessionId: 'no-such-session', instruction: 'Tidy up', textDocument: { uri } }),
      'unknownSession',
      /no-such-session/,
    );
    await expectInvalid(client.executeCommand('efrit.applyJob', { jobId: 'job-999' }), 'unknownJob', /no job job-999.*run the action again/);

    const unknownCommand = client.executeCommand('efrit.summon', {});
    await expect(unknownCommand).rejects.toMatchObject({ code: invalidParams, message: expect.stringMatching(/Unknown command "efrit\.summon"/) });
    const message = await unknownCommand.catch((error: Error) => error.message);
    for (const command of allCommands) expect(message).toContain(command);
    expect(client.initializeResult.capabilities.executeCommandProvider?.commands).toEqual([...allCommands]);

    expect(fake.requests).toHaveLength(0);
    await expectChatWorks(harness);
  });
});

describe('document sync the server has to survive', () => {
  it('ignores changes to a document that is not open, and says so', async () => {
    harness = await startHarness();
    const { client } = harness;
    const uri = client.uriOf('src/ghost.ts');

    await client.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'boo' }],
    });

    await expectInvalid(serverText(client, uri), 'documentNotOpen', /is not open/);
    await client.waitFor(() => warnings(client).some((w) => w.includes(uri) && w.includes('not open')), 'a warning about the ghost document');
    await expectChatWorks(harness);
  });

  it('clamps a change outside the text as an editor would, and says so', async () => {
    harness = await startHarness();
    const { client } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);

    // Past the end of a line: lands at the end of that line.
    const line = positionOf(inventoryTs, 'export interface Item {').line;
    await client.change(uri, { start: { line, character: 200 }, end: { line, character: 300 } }, ' // one product line');
    // Past the end of the document: lands at the end.
    await client.change(uri, { start: { line: 500, character: 3 }, end: { line: 501, character: 0 } }, '// the end\n');

    const expected = `${inventoryTs.replace('export interface Item {', 'export interface Item { // one product line')}// the end\n`;
    const server = await serverText(client, uri);
    expect(server.text).toBe(expected);
    expect(server.version).toBe(3);
    // The test client's TextDocument clamps the same way a real editor's buffer would.
    expect(client.text(uri)).toBe(expected);
    expect(warnings(client).filter((w) => /outside the text .*clamped/.test(w))).toHaveLength(2);

    // And the model sees the text the user sees.
    harness.fake.queueReplies({ text: 'It is an inventory.' });
    await client.request<ChatResult>('efrit/chat', { message: 'What is this?', textDocument: { uri }, range: rangeOf(expected, '// the end') });
    expect(JSON.stringify(harness.fake.requests[0]?.body.messages)).toContain('// one product line');
  });

  it('applies a change whose version goes backwards, and keeps serving', async () => {
    harness = await startHarness();
    const { client } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    await client.edit(uri, 'amount: number', 'quantity: number');
    await client.edit(uri, 'item.stock + amount', 'item.stock + quantity');

    // A confused client goes back to version 2.
    const doc = client.documents.get(uri) as TextDocument;
    const change = { range: rangeOf(client.text(uri), 'restock'), text: 'refill' };
    TextDocument.update(doc, [change], 2);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [change] });

    const server = await serverText(client, uri);
    expect(server.text).toBe(client.text(uri));
    expect(server.text).toContain('export function refill(item: Item, quantity: number): Item {');
    expect(server.version).toBe(2);
    expect(warnings(client).some((w) => /version 2 does not follow 3/.test(w))).toBe(true);

    // Typing on from there is in sync again.
    await client.edit(uri, 'refill', 'replenish');
    expect((await serverText(client, uri)).text).toBe(client.text(uri));
    await expectChatWorks(harness);
  });

  it('does not apply an edit computed before the version went backwards onto the new text', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    await client.edit(uri, 'amount: number', 'quantity: number');
    await client.edit(uri, 'item.stock + amount', 'item.stock + quantity');
    const atVersion3 = client.text(uri);
    const reply = gate();
    fake.queueReplies(
      editReply([{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }], 'Fixed the typo.', { hold: { until: reply.opened } }),
    );
    const running = client.executeCommand('efrit.runAction', {
      actionId: 'fix',
      textDocument: { uri },
      range: rangeOf(atVersion3, 'treshold'),
      diagnostics: [{ range: rangeOf(atVersion3, 'treshold'), message: "Cannot find name 'treshold'." }],
    });
    await fake.waitForRequests(1);

    // While the model works, a confused client reuses version 3 for a change that shifts every line.
    const doc = client.documents.get(uri) as TextDocument;
    const header = { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// Inventory helpers.\n// Loaded at start-up.\n' };
    TextDocument.update(doc, [header], 3);
    await client.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 3 }, contentChanges: [header] });
    const typed = client.text(uri);
    await client.settled();
    reply.open();

    // The server cannot know where its edit belongs in this text, so it must not guess.
    await expect(running).rejects.toMatchObject({ data: { reason: 'editConflict' } });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(typed);
    expect((await serverText(client, uri)).text).toBe(typed);
  });

  it('does not apply an edit to a document that was closed and reopened with other text meanwhile', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const reply = gate();
    fake.queueReplies(
      editReply([{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }], 'Fixed the typo.', { hold: { until: reply.opened } }),
    );
    const running = client.executeCommand('efrit.runAction', {
      actionId: 'fix',
      textDocument: { uri },
      range: rangeOf(inventoryTs, 'treshold'),
      diagnostics: [{ range: rangeOf(inventoryTs, 'treshold'), message: "Cannot find name 'treshold'." }],
    });
    await fake.waitForRequests(1);

    // The user closes the file and opens it again after it changed on disk; editors start again at version 1.
    await client.close(uri);
    const reopened = `// Inventory helpers.\n// Loaded at start-up.\n${inventoryTs}`;
    await client.open('src/inventory.ts', reopened);
    await client.settled();
    reply.open();

    await expect(running).rejects.toMatchObject({ data: { reason: expect.stringMatching(/editConflict|documentNotOpen/) } });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(reopened);
    expect((await serverText(client, uri)).text).toBe(reopened);
  });
});

describe('settings', () => {
  it('names wrong settings, keeps the defaults, and takes a good value sent later', async () => {
    const settings: Record<string, unknown> = {};
    harness = await startHarness({ settings, initializationOptions: { maxTokens: 'lots', queue: { concurrency: 0 } } });
    const { client, fake } = harness;

    await client.waitFor(() => warnings(client).some((w) => w.includes('efrit.maxTokens')), 'a warning naming efrit.maxTokens');
    await client.waitFor(() => warnings(client).some((w) => w.includes('efrit.queue.concurrency')), 'a warning naming efrit.queue.concurrency');
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.queue.concurrency).toBe(4);
    await expectChatWorks(harness);
    expect(fake.requests[0]?.body.max_tokens).toBe(4096);

    // The user corrects the settings; the client answers workspace/configuration with the new ones.
    Object.assign(settings, { maxTokens: 1000, queue: { concurrency: 2 } });
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await statusWhen(client, (s) => s.queue.concurrency === 2, 'concurrency 2');
    await expectChatWorks(harness);
    expect(fake.requests[1]?.body.max_tokens).toBe(1000);

    // A later mistake keeps the last good value, not the default.
    const seen = warnings(client).length;
    Object.assign(settings, { queue: { concurrency: 'many' } });
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await client.waitFor(() => warnings(client).slice(seen).some((w) => w.includes('efrit.queue.concurrency')), 'a warning about "many"');
    expect((await client.request<StatusResult>('efrit/status', {})).queue.concurrency).toBe(2);
  });

  it('takes settings pushed with didChangeConfiguration from a client without workspace/configuration', async () => {
    const { configuration: _pulls, ...workspace } = eglotCapabilities.workspace ?? {};
    harness = await startHarness({ capabilities: { ...eglotCapabilities, workspace }, initializationOptions: { queue: { concurrency: 0 } } });
    const { client, fake } = harness;
    await client.waitFor(() => warnings(client).some((w) => w.includes('efrit.queue.concurrency')), 'a warning naming efrit.queue.concurrency');

    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { efrit: { queue: { concurrency: 3 }, maxTokens: 2048 } } });

    await statusWhen(client, (s) => s.queue.concurrency === 3, 'concurrency 3');
    await expectChatWorks(harness);
    expect(fake.requests[0]?.body.max_tokens).toBe(2048);
  });
});
