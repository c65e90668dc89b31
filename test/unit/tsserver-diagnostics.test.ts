/**
 * typescript-language-server's tsserver pass-through, as the proposal check
 * uses it for a complete set of a shadow's diagnostics: when it is offered,
 * and how tsserver's answers become the diagnostics typescript-language-server
 * would have published.
 */
import { describe, expect, it } from 'vitest';
import { diagnosticsOfTsserverAnswer, offersTsserverRequests } from '../../server/src/proxy/tsserver-diagnostics.js';

const span = { start: { line: 3, offset: 5 }, end: { line: 3, offset: 9 } };
const answer = (body: unknown) => ({ seq: 0, type: 'response', command: 'semanticDiagnosticsSync', success: true, body });

describe("typescript-language-server's tsserver pass-through", () => {
  it('is offered when the server declares the command among its commands', () => {
    expect(offersTsserverRequests({ commands: ['_typescript.organizeImports', 'typescript.tsserverRequest'] })).toBe(true);
    expect(offersTsserverRequests({ commands: ['_typescript.organizeImports'] })).toBe(false);
    expect(offersTsserverRequests({ commands: 'typescript.tsserverRequest' })).toBe(false);
    expect(offersTsserverRequests(undefined)).toBe(false);
    expect(offersTsserverRequests(null)).toBe(false);
  });

  it('turns each of tsserver diagnostics into the one typescript-language-server publishes', () => {
    expect(
      diagnosticsOfTsserverAnswer(
        answer([
          { ...span, text: "Cannot find name 'nmae'.", code: 2304, category: 'error' },
          { ...span, text: 'Unreachable code detected.', code: 7027, category: 'warning', reportsUnnecessary: true },
          { ...span, text: "'substr' is deprecated.", code: 6385, category: 'suggestion', reportsDeprecated: true, source: 'ts-plugin' },
          { ...span, text: 'Some message.', category: 'message' },
        ]),
      ),
    ).toEqual([
      { range: { start: { line: 2, character: 4 }, end: { line: 2, character: 8 } }, message: "Cannot find name 'nmae'.", severity: 1, code: 2304, source: 'typescript' },
      { range: { start: { line: 2, character: 4 }, end: { line: 2, character: 8 } }, message: 'Unreachable code detected.', severity: 2, code: 7027, source: 'typescript', tags: [1] },
      { range: { start: { line: 2, character: 4 }, end: { line: 2, character: 8 } }, message: "'substr' is deprecated.", severity: 4, code: 6385, source: 'ts-plugin', tags: [2] },
      // Any other category is an error, as typescript-language-server has it.
      { range: { start: { line: 2, character: 4 }, end: { line: 2, character: 8 } }, message: 'Some message.', severity: 1, source: 'typescript' },
    ]);
  });

  it('leaves out items that are not diagnostics, and never yields a position before the start', () => {
    expect(
      diagnosticsOfTsserverAnswer(
        answer([null, 'text', { ...span }, { start: { line: 1 }, end: span.end, text: 'no offset' }, { start: { line: 0, offset: 0 }, end: { line: 1, offset: 1 }, text: 'at the start', source: '' }]),
      ),
    ).toEqual([{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, message: 'at the start', severity: 1, source: 'typescript' }]);
  });

  it('says what is wrong with an answer that is not a list of diagnostics', () => {
    const failed = diagnosticsOfTsserverAnswer({ success: false, message: 'No Project.' });
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toBe('tsserver answered: No Project.');
    expect((diagnosticsOfTsserverAnswer({ success: false }) as Error).message).toBe('tsserver answered: failed');
    expect((diagnosticsOfTsserverAnswer(null) as Error).message).toBe('tsserver gave no response');
    expect((diagnosticsOfTsserverAnswer('done') as Error).message).toBe('tsserver gave no response');
    expect((diagnosticsOfTsserverAnswer({ success: true }) as Error).message).toBe('tsserver answered without a list of diagnostics');
  });
});
