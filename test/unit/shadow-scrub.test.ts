/**
 * The wrapped server counts open shadow documents as files of the project;
 * its answers reach the editor and the agent without them, whatever their shape.
 */
import { describe, expect, it } from 'vitest';
import { mayNameShadows, withoutShadows } from '../../server/src/proxy/shadow-scrub.js';

const range = { start: { line: 3, character: 2 }, end: { line: 3, character: 11 } };
const real = 'file:///w/src/checkout.ts';
const shadow = 'file:///w/src/checkout.efrit-check-4.ts';

describe('answers without shadow documents', () => {
  it('leaves out locations, links and symbols in a shadow, and answers null for a single one', () => {
    expect(withoutShadows([{ uri: real, range }, { uri: shadow, range }])).toEqual([{ uri: real, range }]);
    expect(withoutShadows({ uri: shadow, range })).toBeNull();
    expect(withoutShadows([{ targetUri: shadow, targetRange: range, targetSelectionRange: range }])).toEqual([]);
    expect(withoutShadows([{ name: 'cartTotal', kind: 12, location: { uri: shadow, range } }, { name: 'cartTotal', kind: 12, location: { uri: real, range } }])).toEqual([
      { name: 'cartTotal', kind: 12, location: { uri: real, range } },
    ]);
  });

  it('leaves out every shadow of an answer holding several, keeping what lies between them, and returns an answer without any as it is', () => {
    const cart = 'file:///w/src/cart.ts';
    const second = 'file:///w/src/cart.efrit-check-5.ts';
    const edit = [{ range, newText: 'total' }];
    expect(withoutShadows({ changes: { [real]: edit, [shadow]: edit, [cart]: edit, [second]: edit } })).toEqual({ changes: { [real]: edit, [cart]: edit } });
    expect(withoutShadows([{ uri: real, range }, { uri: shadow, range }, { uri: cart, range }, { uri: second, range }])).toEqual([
      { uri: real, range },
      { uri: cart, range },
    ]);
    const clean = [{ uri: real, range }, { uri: cart, range }];
    expect(withoutShadows(clean)).toBe(clean);
  });

  it("leaves a shadow out of a rename's edit, in either form, and out of an edit the server asks the editor to apply", () => {
    expect(withoutShadows({ changes: { [real]: [{ range, newText: 'total' }], [shadow]: [{ range, newText: 'total' }] } })).toEqual({ changes: { [real]: [{ range, newText: 'total' }] } });
    expect(
      withoutShadows({
        documentChanges: [
          { textDocument: { uri: shadow, version: 3 }, edits: [{ range, newText: 'total' }] },
          { textDocument: { uri: real, version: 9 }, edits: [{ range, newText: 'total' }] },
          { kind: 'rename', oldUri: shadow, newUri: 'file:///w/src/other.ts' },
          { kind: 'rename', oldUri: real, newUri: shadow },
        ],
      }),
    ).toEqual({ documentChanges: [{ textDocument: { uri: real, version: 9 }, edits: [{ range, newText: 'total' }] }] });
    expect(withoutShadows({ label: 'Move to file', edit: { changes: { [shadow]: [] } } })).toEqual({ label: 'Move to file', edit: { changes: {} } });
  });

  it('leaves out call hierarchy calls from or to a shadow', () => {
    const item = (uri: string) => ({ name: 'checkout', kind: 12, uri, range, selectionRange: range });
    expect(withoutShadows([{ from: item(shadow), fromRanges: [range] }, { from: item(real), fromRanges: [range] }])).toEqual([{ from: item(real), fromRanges: [range] }]);
    expect(withoutShadows([{ to: item(shadow), fromRanges: [range] }])).toEqual([]);
  });

  it('cleans lists within lists, and leaves entries with no document alone', () => {
    expect(withoutShadows([[{ uri: shadow, range }, { uri: real, range }]])).toEqual([[{ uri: real, range }]]);
    expect(withoutShadows([{ name: 'orphan', location: null }])).toEqual([{ name: 'orphan', location: null }]);
  });

  it('goes 64 levels deep and no deeper, however an answer is nested', () => {
    const nested = (levels: number): unknown => {
      let value: unknown = [{ uri: shadow, range }];
      for (let level = 1; level < levels; level++) value = [value];
      return value;
    };
    expect(JSON.stringify(withoutShadows(nested(65)))).not.toContain(shadow);
    const tooDeep = nested(66);
    expect(withoutShadows(tooDeep)).toBe(tooDeep);
  });

  it('keeps an answer with no shadow in it as it is, the same object', () => {
    const answer = { contents: { kind: 'markdown', value: 'x' }, items: [{ uri: real, range }], nothing: null };
    expect(withoutShadows(answer)).toBe(answer);
    expect(withoutShadows(null)).toBeNull();
    expect(withoutShadows('text')).toBe('text');
  });

  it('is applied to the answers that can name other documents, not to every answer', () => {
    const naming = ['definition', 'declaration', 'typeDefinition', 'implementation', 'references', 'rename', 'prepareCallHierarchy', 'prepareTypeHierarchy', 'codeAction'].map((name) => `textDocument/${name}`);
    const others = ['callHierarchy/incomingCalls', 'callHierarchy/outgoingCalls', 'typeHierarchy/supertypes', 'typeHierarchy/subtypes', 'codeAction/resolve'];
    const workspace = ['symbol', 'executeCommand', 'willRenameFiles', 'willCreateFiles', 'willDeleteFiles', 'applyEdit'].map((name) => `workspace/${name}`);
    for (const method of [...naming, ...others, ...workspace]) {
      expect(mayNameShadows(method)).toBe(true);
    }
    for (const method of ['textDocument/hover', 'textDocument/completion', 'textDocument/formatting']) expect(mayNameShadows(method)).toBe(false);
  });
});
