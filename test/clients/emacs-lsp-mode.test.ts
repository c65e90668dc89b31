/**
 * The Emacs client over lsp-mode (clients/emacs/efrit-lsp-mode.el) in a
 * real, headless Emacs with Debian's lsp-mode 8.0, against the real server
 * bundle and the fake Messages API: one ert test per behaviour
 * (test/clients/emacs/efrit-lsp-mode-test.el), each a vitest case here.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { namedGates, never, type NamedGates } from '../support/gate.js';
import { editReply } from '../support/harness.js';
import { shouldRunEditorTests } from './editors.js';
import { emacsTestBed, ertSuite } from './emacs-runner.js';
import { cartProject, checkoutJs, docComment, firstUserText, lastUserText, renameAgent } from './emacs-fixtures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'test/clients/emacs/efrit-lsp-mode-test.el');

/** A streamed text reply's events before its second delta: message_start, content_block_start, ping, the first text_delta. */
const afterFirstDelta = 4;

/** What the scripted model says, by what it was asked (each ert test works in its own file). */
function respond(request: RecordedRequest, signals: NamedGates): FakeReply {
  const asked = lastUserText(request);
  if (JSON.stringify(request.body.system ?? '').includes('code completion engine')) return { text: 'items.length;' };
  if (asked.includes('Add documentation comments')) {
    return editReply([{ old_text: 'function subtotal(items) {', new_text: `${docComment}function subtotal(items) {` }], 'Documented subtotal.');
  }
  if (asked.includes('Explain what the selected code does')) {
    if (asked.includes('warnings.js')) return { text: ['The tax rate, ', 'as a fraction.'] };
    // The rest waits until the script has seen the first part while the request was pending.
    return { text: ['`subtotal` adds up price × quantity ', 'for every item ', 'in the cart.'], hold: { until: signals.opened('lsp-explain-partial'), afterEvents: afterFirstDelta } };
  }
  if (asked.includes('LSPM-CHAT-1')) return { text: ['`total` adds ', 'the tax.'] };
  if (asked.includes('LSPM-CHAT-2')) return { text: ['No, it ', 'does not.'] };
  if (asked.includes('LSPM-STATUS')) return { text: '`subtotal` adds up price × quantity.' };
  if (asked.includes('LSPM-DO')) {
    return editReply(
      [{ old_text: '  return (base - discount) * (1 + TAX_RATE);', new_text: '  return Math.round((base - discount) * (1 + TAX_RATE) * 100) / 100;' }],
      'Rounded the total to cents.',
    );
  }
  if (firstUserText(request).includes('LSPM-REVIEW')) return renameAgent(request, 'lspm');
  // Its first words show the request reached the model; then the user cancels it.
  if (asked.includes('LSPM-SLOW')) return { text: ['Let me think. ', 'This answer comes far too late.'], hold: { until: never, afterEvents: afterFirstDelta } };
  return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
}

describe.skipIf(!shouldRunEditorTests('emacs'))('Emacs client over lsp-mode (efrit-lsp-mode.el)', () => {
  const signals = namedGates();
  const bed = emacsTestBed('emacs-lsp-mode', (request) => respond(request, signals));
  ertSuite(bed, {
    script,
    signals,
    timeoutMs: 240_000,
    project: () => {
      const { project, file } = cartProject(bed.work);
      writeFileSync(join(project, 'src', 'lspm-checkout.js'), checkoutJs('lspm'));
      return { project, file };
    },
  });

  it('sent the fake API only what the tests asked, with the key, and aborted the cancelled chat', () => {
    expect(bed.fake.requests.filter((r) => !JSON.stringify(r.body.system ?? '').includes('code completion engine')).map(firstUserText).filter((t) => !/LSPM-|Add documentation|Explain what/.test(t))).toEqual([]);
    expect(bed.fake.requests.every((r) => r.apiKeyMatched)).toBe(true);
    expect(bed.fake.requests.find((r) => lastUserText(r).includes('LSPM-SLOW'))?.outcome).toBe('aborted-by-client');
  });
});
