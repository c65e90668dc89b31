import { afterEach, describe, expect, it } from 'vitest';
import type { CompletionItem, InlineCompletionList } from 'vscode-languageserver-protocol';
import type { StatusResult } from '../../server/src/protocol.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, positionOf, type TestClient } from '../support/lsp-client.js';
import { gate } from '../support/gate.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const pricing = `export interface Order {
  unitPrice: number;
  quantity: number;
}

export function orderTotal(order: Order): number {
  return 
}
`;

const invoked = { triggerKind: 1 };
const automatic = { triggerKind: 2 };

function complete(client: TestClient, uri: string, position: { line: number; character: number }, context = invoked): Promise<InlineCompletionList> {
  return client.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri }, position, context });
}

describe('inline completion (ghost text)', () => {
  it('asks the fast model and returns a clean suggestion at the cursor', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    expect(client.initializeResult.capabilities.inlineCompletionProvider).toBe(true);
    fake.queueReplies({ text: '```ts\norder.unitPrice * order.quantity;\n```' });
    const uri = await client.open('src/pricing.ts', pricing);
    const cursor = { line: positionOf(pricing, '  return ').line, character: '  return '.length };

    const list = await complete(client, uri, cursor);

    expect(list.items).toEqual([
      {
        insertText: 'order.unitPrice * order.quantity;',
        range: { start: cursor, end: cursor },
        command: { title: 'Efrit: suggestion accepted', command: 'efrit.completionAccepted', arguments: [{ textDocument: { uri } }] },
      },
    ]);
    expect(fake.requests[0]?.body.model).toBe('claude-haiku-5-5');
    expect(JSON.stringify(fake.requests[0]?.body.messages)).toContain('export function orderTotal(order: Order): number {');
    // Ghost text is not a job to watch: nothing in efrit/stream.
    expect(client.streams).toEqual([]);
  });

  it('names files relative to the workspace in the prompt, never by their absolute path', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'order.unitPrice * order.quantity;' }));
    // Typing in one file, then in another: the first goes along with the second's prompt as a recent snippet.
    const helper = await client.open('src/format.ts', 'export const currency = "EUR";\nexport const rate = ');
    await complete(client, helper, { line: 1, character: 'export const rate = '.length });
    const uri = await client.open('src/pricing.ts', pricing);
    await complete(client, uri, { line: positionOf(pricing, '  return ').line, character: '  return '.length });

    const sent = JSON.stringify(fake.requests.at(-1)?.body);
    expect(sent).toContain('File: src/pricing.ts (typescript)');
    expect(sent).toContain('File: src/format.ts (typescript)');
    expect(sent).not.toContain(client.workspaceFolder);
  });

  it('reuses the suggestion when the user types its beginning, without a new model call', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);
    const line = positionOf(pricing, '  return ').line;
    await complete(client, uri, { line, character: '  return '.length });

    await client.change(uri, { start: { line, character: 9 }, end: { line, character: 9 } }, 'order.');
    const rest = await complete(client, uri, { line, character: 15 }, automatic);

    expect(rest.items[0]?.insertText).toBe('unitPrice * order.quantity;');
    expect(fake.requests).toHaveLength(1);
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.completion).toMatchObject({ requests: 2, modelCalls: 1, typedAhead: 1 });
  });

  it('counts a suggestion accepted when the client runs its command after inserting it', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);
    const line = positionOf(pricing, '  return ').line;
    const [suggestion] = (await complete(client, uri, { line, character: '  return '.length })).items;
    expect(client.initializeResult.capabilities.executeCommandProvider?.commands).toContain('efrit.completionAccepted');

    // What VS Code and Neovim do on Tab: insert the text, then run the item's command.
    await client.change(uri, { start: { line, character: 9 }, end: { line, character: 9 } }, 'order.unitPrice * order.quantity;');
    await client.request('workspace/executeCommand', suggestion?.command);

    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.completion).toMatchObject({ requests: 1, shown: 1, accepted: 1 });
    expect(client.text(uri)).toContain('  return order.unitPrice * order.quantity;\n');
    await expect(client.request('workspace/executeCommand', { command: 'efrit.completionAccepted', arguments: [{}] })).rejects.toThrow(/textDocument/);
  });

  it('answers an older request empty when a newer one for the same file comes', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const reply = gate();
    fake.respondWith(() => ({ text: 'order.unitPrice * order.quantity;', hold: { until: reply.opened } }));
    const uri = await client.open('src/pricing.ts', pricing);
    const line = positionOf(pricing, '  return ').line;
    const older = complete(client, uri, { line, character: 9 });
    await fake.waitForRequests(1);
    const newer = complete(client, uri, { line, character: 9 });
    await client.settled();
    reply.open();

    expect((await older).items).toEqual([]);
    expect((await newer).items[0]?.insertText).toBe('order.unitPrice * order.quantity;');
    expect((await client.request<StatusResult>('efrit/status', {})).completion.cancelled).toBeGreaterThanOrEqual(1);
  });

  it('stays quiet when turned off, and refuses a position outside the document', async () => {
    harness = await startHarness({ initializationOptions: { completion: { inline: false } } });
    const uri = await harness.client.open('src/pricing.ts', pricing);
    expect((await complete(harness.client, uri, { line: 6, character: 9 })).items).toEqual([]);
    await expect(complete(harness.client, uri, { line: 99, character: 0 })).rejects.toMatchObject({ data: { reason: 'rangeOutOfBounds' } });
    expect(harness.fake.requests).toHaveLength(0);
  });
});

describe('the opt-in popup item, for clients without inline completion', () => {
  it('is not declared unless asked for', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    expect(harness.client.initializeResult.capabilities.completionProvider).toBeUndefined();
  });

  it('offers the suggestion as one completion item when completion.popup is on', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: { completion: { popup: true } } });
    const { client, fake } = harness;
    expect(client.initializeResult.capabilities.completionProvider).toBeDefined();
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);
    const cursor = { line: positionOf(pricing, '  return ').line, character: '  return '.length };

    const items = await client.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri }, position: cursor, context: { triggerKind: 1 } });

    expect(items).toEqual([
      expect.objectContaining({
        label: 'order.unitPrice * order.quantity;',
        detail: 'Efrit suggestion',
        textEdit: { range: { start: cursor, end: cursor }, newText: 'order.unitPrice * order.quantity;' },
        command: expect.objectContaining({ command: 'efrit.completionAccepted', arguments: [{ textDocument: { uri } }] }),
      }),
    ]);
  });
});
