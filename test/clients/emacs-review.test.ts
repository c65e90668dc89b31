/**
 * Reviewing a multi-file change in the Emacs client (clients/emacs/efrit-lsp-review.el)
 * in a real, headless Emacs with Eglot 1.9, one ert test per behaviour
 * (test/clients/emacs/efrit-review-test.el), each a vitest case: the review
 * buffer and Eglot's applying of a change written as the server sends it, then
 * the whole flow against the real server bundle and the fake Messages API —
 * `efrit-lsp-do` proposes an edit of the open buffer, an edit of a file no
 * buffer visits and a new file; accepted, rejected, accepted without one file, or
 * accepted after the unvisited file changed on disk (then nothing is applied).
 * And "Efrit: Write tests", which creates a file now that the client says it can.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { shouldRunEditorTests } from './editors.js';
import { emacsTestBed, ertSuite } from './emacs-runner.js';
import { cartProject, cartTestJs, checkoutJs, firstUserText, renameAgent } from './emacs-fixtures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'test/clients/emacs/efrit-review-test.el');

/** The scenarios of the script, each with its own files: `src/<name>-cart.js` (open), `src/<name>-checkout.js` (on disk only). */
const scenarios = ['accept', 'reject', 'partial', 'stale'] as const;

/** The instruction the script gives in scenario `name`, found again in the first user message. */
const instructionTag = (name: string): string => `REVIEW-${name.toUpperCase()}`;

function respond(request: RecordedRequest): FakeReply {
  const asked = firstUserText(request);
  if (asked.includes('REVIEW-NONE')) return { text: 'total() already says what it does; nothing to change.' };
  if (asked.includes('Write unit tests for the selected code')) {
    // Only an editor that can create files is asked for a new test file.
    if (!asked.includes("created with propose_edits' files")) return { text: 'UNEXPECTED: asked to insert the tests, not to create a file' };
    return { toolUses: [{ name: 'propose_edits', input: { summary: 'Tests for total()', edits: [], files: [{ action: 'create', path: 'test/tests-cart.test.js', text: cartTestJs('tests') }] } }] };
  }
  const name = scenarios.find((scenario) => asked.includes(instructionTag(scenario)));
  if (name === undefined) return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
  return renameAgent(request, name);
}

describe.skipIf(!shouldRunEditorTests('emacs'))('Emacs client: reviewing a multi-file change (efrit-lsp-review.el)', () => {
  const bed = emacsTestBed('emacs-review', respond);
  ertSuite(bed, {
    script,
    timeoutMs: 240_000,
    project: () => {
      const { project, file } = cartProject(bed.work);
      for (const name of scenarios) writeFileSync(join(project, 'src', `${name}-checkout.js`), checkoutJs(name));
      return { project, file };
    },
  });

  it('asked the model only for the four scenarios (two steps each), the one without an edit and the tests, with the key', () => {
    expect(bed.fake.requests.every((r) => r.apiKeyMatched)).toBe(true);
    for (const name of scenarios) expect(bed.fake.requests.filter((r) => firstUserText(r).includes(instructionTag(name)))).toHaveLength(2);
    expect(bed.fake.requests.filter((r) => firstUserText(r).includes('REVIEW-NONE'))).toHaveLength(1);
    expect(bed.fake.requests.filter((r) => firstUserText(r).includes('Write unit tests'))).toHaveLength(1);
    expect(bed.fake.requests).toHaveLength(2 * scenarios.length + 2);
  });
});
