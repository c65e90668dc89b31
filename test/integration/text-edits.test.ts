/**
 * A model that cannot call tools (`modelsWithoutTools`): it is offered none and
 * writes its edits as SEARCH/REPLACE blocks, which land as the same edits a
 * propose_edits call would, or are refused whole when malformed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction, Command } from 'vscode-languageserver-protocol';
import type { DoResult, RunActionResult } from '../../server/src/protocol.js';
import { systemPrompt, textEditsSystemPrompt } from '../../server/src/model/prompts.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities } from '../support/lsp-client.js';

const localModel = 'claude-sonnet-5-5';
const withoutTools = { model: localModel, modelsWithoutTools: [localModel] };

const textFix = [
  'Summary: Use the parameter `threshold`.',
  '<<<<<<< SEARCH',
  '  return items.filter((item) => item.stock < treshold);',
  '=======',
  '  return items.filter((item) => item.stock < threshold);',
  '>>>>>>> REPLACE',
].join('\n');

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function pickFix(h: Harness): Promise<{ uri: string; fix: CodeAction }> {
  const uri = await h.client.open('src/inventory.ts', inventoryTs);
  const [fix] = (await h.client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as (CodeAction | Command)[] as CodeAction[];
  return { uri, fix: fix as CodeAction };
}

/** The system prompt the fake received, as one string. */
function systemOf(body: { system?: string | ReadonlyArray<{ text: string }> | undefined }): string {
  const system = body.system ?? '';
  return typeof system === 'string' ? system : system.map((block) => block.text).join('\n');
}

describe('a model without tool calls', () => {
  it('gets no tools and the text-format prompt, and its SEARCH/REPLACE answer to a Fix lands as the edit', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: withoutTools });
    const { client, fake } = harness;
    fake.queueReplies({ text: textFix });
    const { uri, fix } = await pickFix(harness);

    const result = await client.executeCommand<RunActionResult>('efrit.runAction', fix.command?.arguments?.[0]);

    expect(result.applied).toBe(true);
    await client.waitFor(() => !client.text(uri).includes('treshold'), 'the fix in the buffer');
    expect(client.text(uri)).toBe(inventoryTs.replace('item.stock < treshold', 'item.stock < threshold'));
    const body = fake.requests[0]!.body;
    expect(body.model).toBe(localModel);
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('tool_choice');
    expect(systemOf(body)).toContain(textEditsSystemPrompt);
    expect(systemOf(body)).not.toContain(systemPrompt);
  });

  it('refuses a malformed answer as invalidEdit, naming the fault, and applies nothing', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: withoutTools });
    const { client, fake } = harness;
    fake.queueReplies({ text: textFix.replace('>>>>>>> REPLACE', '') });
    const { uri, fix } = await pickFix(harness);

    await expect(client.executeCommand('efrit.runAction', fix.command?.arguments?.[0])).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringContaining('the block opened at line 2 never ends: ">>>>>>> REPLACE" missing'),
    });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('still offers tools, and the tool prompt, to a model the setting does not name', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: { model: localModel, modelsWithoutTools: ['openai:llama3.1'] } });
    const { client, fake } = harness;
    fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'Fix.', edits: [{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }] } }] });
    const { fix } = await pickFix(harness);

    await client.executeCommand<RunActionResult>('efrit.runAction', fix.command?.arguments?.[0]);

    const body = fake.requests[0]!.body;
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'propose_edits' });
    expect(systemOf(body)).toContain(systemPrompt);
  });

  it('answers efrit/do in one step without tools, its text edit quoting the excerpt', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: withoutTools });
    const { client, fake } = harness;
    fake.queueReplies({ text: textFix });
    const uri = await client.open('src/inventory.ts', inventoryTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix the typo in lowStock', textDocument: { uri } });

    expect(result).toMatchObject({ applied: true, steps: 1, summary: 'Use the parameter `threshold`.' });
    await client.waitFor(() => !client.text(uri).includes('treshold'), 'the fix in the buffer');
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.body).not.toHaveProperty('tools');
  });

  it('answers efrit/do in words when the answer has no block', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: withoutTools });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'lowStock compares each item with the threshold.' });
    const uri = await client.open('src/inventory.ts', inventoryTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'what does lowStock do?', textDocument: { uri } });

    expect(result).toMatchObject({ edit: null, applied: false, steps: 1, summary: 'lowStock compares each item with the threshold.' });
    expect(client.text(uri)).toBe(inventoryTs);
    expect(fake.requests[0]?.body).not.toHaveProperty('tools');
  });
});
