/**
 * An answer bigger than `maxTokens` allows — what a gateway, a proxy or
 * another provider behind efrit.baseURL can send, though the real API cannot —
 * is stopped while it streams: one `tooLarge` error a person can act on,
 * nothing applied, the HTTP request hung up, and the server goes on serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import type { ChatResult, RunActionArgs, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import type { FakeFault, FloodedBlock } from '../support/fake-anthropic/types.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, type TestClient } from '../support/lsp-client.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** A propose_edits call for the typo whose `new_text` is filled by the fault's filler. */
function floodedFix(): FloodedBlock {
  const input = JSON.stringify({
    summary: 'Use the parameter `threshold`.',
    edits: [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '' }],
  });
  const cut = input.indexOf('"new_text":"') + '"new_text":"'.length;
  return { type: 'toolInput', name: 'propose_edits', inputBefore: input.slice(0, cut), inputAfter: input.slice(cut) };
}

async function fixCommandArgs(client: TestClient, uri: string): Promise<RunActionArgs> {
  const actions = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];
  const fix = actions.find((a) => a.title.startsWith('Efrit: Fix'));
  return fix?.command?.arguments?.[0] as RunActionArgs;
}

/** The error for an answer stopped at `bound` (the message names it), at the default maxTokens of 4096. */
const tooLarge = (bound: RegExp) => ({
  code: -32803,
  data: { reason: 'tooLarge' },
  message: expect.stringMatching(new RegExp(`maxTokens \\(4096\\) allows \\(${bound.source}\\); it was stopped and nothing was applied\\. Check that efrit\\.baseURL`)),
});
const content = /more than 131,072 characters/;
const wire = /more than 5 MiB on the wire/;
const oneLine = /one stream event of more than 1 MiB/;

/** The server still answers, the stopped call was hung up on, and a normal chat works. */
async function expectStillServing(h: Harness): Promise<void> {
  const { client, fake } = h;
  await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the oversized answer aborted');
  const status = await client.request<StatusResult>('efrit/status', {});
  expect(status.queue.running).toBe(0);
  fake.queueReplies({ text: 'Still here.' });
  expect((await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' })).reply).toBe('Still here.');
}

describe('an answer larger than maxTokens allows', () => {
  it.each<[string, FakeFault, RegExp]>([
    ['text that never ends', { kind: 'flood', block: { type: 'text' } }, content],
    ['thinking that never ends', { kind: 'flood', block: { type: 'thinking' } }, content],
    ['one stream event whose line never ends', { kind: 'endlessLine', afterEvents: 3 }, oneLine],
    ['nothing but pings, without end', { kind: 'flood', block: { type: 'pings' } }, wire],
  ])('is stopped in a chat: %s', async (_what, fault, bound) => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ fault });

    await expect(client.request('efrit/chat', { message: 'Summarise the inventory module.' })).rejects.toMatchObject(tooLarge(bound));

    await expectStillServing(harness);
  });

  it.each<[string, FakeFault]>([
    ['a tool call whose input JSON never ends', { kind: 'flood', block: floodedFix() }],
    ['a complete propose_edits whose new_text is 100 MB', { kind: 'flood', block: floodedFix(), totalChars: 100_000_000, deltaChars: 4096 }],
  ])('is stopped before anything is applied: %s', async (_what, fault) => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.queueReplies({ fault });

    await expect(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri))).rejects.toMatchObject(tooLarge(content));

    await expectStillServing(harness);
    expect(client.appliedEdits).toHaveLength(0);
    expect((await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } })).text).toBe(inventoryTs);
  });

  it('lets an answer of the same kind through when it fits', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    // About 20,000 characters of new code: far under 4096 tokens' allowance, far over one delta.
    fake.queueReplies({ fault: { kind: 'flood', block: floodedFix(), totalChars: 20_000 } });

    const result = await client.executeCommand<{ applied: boolean }>('efrit.runAction', await fixCommandArgs(client, uri));

    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain('    total += item.price * item.quantity;\n'.repeat(100));
  });
});
