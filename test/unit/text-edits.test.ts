import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { looksLikeTextEdits, parseTextEdits } from '../../server/src/assistant/text-edits.js';

/** The refusal parseTextEdits raises for `answer`. */
function refusalOf(answer: string): EfritError {
  try {
    parseTextEdits(answer);
  } catch (error) {
    if (error instanceof EfritError) return error;
    throw error;
  }
  throw new Error('the answer was accepted');
}

const oneBlock = [
  'Summary: Guard against an empty list.',
  '',
  '<<<<<<< SEARCH',
  '  return items[0].price;',
  '=======',
  '  if (items.length === 0) return 0;',
  '  return items[0].price;',
  '>>>>>>> REPLACE',
].join('\n');

describe('parseTextEdits: SEARCH/REPLACE blocks as propose_edits input', () => {
  it('reads one block and the summary line', () => {
    expect(parseTextEdits(oneBlock)).toEqual({
      summary: 'Guard against an empty list.',
      edits: [{ old_text: '  return items[0].price;', new_text: '  if (items.length === 0) return 0;\n  return items[0].price;' }],
    });
  });

  it('reads several blocks in order, ignoring prose and code fences around them', () => {
    const answer = [
      'Here is the fix.',
      'Summary: Rename total to sum.',
      '```',
      '<<<<<<< SEARCH',
      'let total = 0;',
      '=======',
      'let sum = 0;',
      '>>>>>>> REPLACE',
      '```',
      'And the return:',
      '<<<<<<< SEARCH src/cart.ts',
      'return total;',
      '=======',
      'return sum;',
      '>>>>>>> REPLACE',
      'Summary: a second summary line is prose.',
    ].join('\n');
    expect(parseTextEdits(answer)).toEqual({
      summary: 'Rename total to sum.',
      edits: [
        { old_text: 'let total = 0;', new_text: 'let sum = 0;' },
        { path: 'src/cart.ts', old_text: 'return total;', new_text: 'return sum;' },
      ],
    });
  });

  it('takes the path after SEARCH, for another file', () => {
    const answer = ['<<<<<<< SEARCH src/util/math.ts  ', 'export const two = 3;', '=======', 'export const two = 2;', '>>>>>>> REPLACE'].join('\n');
    expect(parseTextEdits(answer)).toEqual({ summary: '', edits: [{ path: 'src/util/math.ts', old_text: 'export const two = 3;', new_text: 'export const two = 2;' }] });
  });

  it('reads a CRLF answer the same as an LF one, with trailing spaces after the markers', () => {
    expect(parseTextEdits(oneBlock.replaceAll('\n', '\r\n').replace('=======', '=======  '))).toEqual(parseTextEdits(oneBlock));
  });

  it('joins the lines of a part with \\n, keeps lines that only look like markers, and takes trailing spaces after any marker', () => {
    const answer = ['<<<<<<< SEARCH\t', 'if (a) {', '  run();', '}', '=======\t', '<Button onClick={run} />', '== not a marker', ">> neither, nor a quoted '=======' ", '>>>>>>> REPLACE  '].join('\n');
    expect(parseTextEdits(answer).edits).toEqual([{ old_text: 'if (a) {\n  run();\n}', new_text: "<Button onClick={run} />\n== not a marker\n>> neither, nor a quoted '=======' " }]);
  });

  it('gives an empty SEARCH part as an empty old_text (insert at the selection) and an empty REPLACE part as a deletion', () => {
    const answer = ['<<<<<<< SEARCH', '=======', '// TODO: validate', '>>>>>>> REPLACE', '<<<<<<< SEARCH', 'debugger;', '=======', '>>>>>>> REPLACE'].join('\n');
    expect(parseTextEdits(answer).edits).toEqual([
      { old_text: '', new_text: '// TODO: validate' },
      { old_text: 'debugger;', new_text: '' },
    ]);
  });

  it.each([
    ['an unterminated block', ['<<<<<<< SEARCH', 'a();', '=======', 'b();'], 'the block opened at line 1 never ends: ">>>>>>> REPLACE" missing'],
    ['a block with no divider', ['x', '<<<<<<< SEARCH', 'a();'], 'the block opened at line 2 never ends: "=======" and ">>>>>>> REPLACE" missing'],
    ['an opening marker inside SEARCH text', ['<<<<<<< SEARCH', 'a();', '<<<<<<< SEARCH', 'b();', '=======', 'c();', '>>>>>>> REPLACE'], 'line 3 has a "<<<<<<< SEARCH" marker inside the SEARCH text of the block opened at line 1'],
    ['a closing marker inside SEARCH text', ['<<<<<<< SEARCH', 'a();', '>>>>>>> REPLACE'], 'line 3 has a ">>>>>>> REPLACE" marker inside the SEARCH text of the block opened at line 1'],
    ['a second divider inside REPLACE text', ['<<<<<<< SEARCH', 'a();', '=======', 'b();', '=======', 'c();', '>>>>>>> REPLACE'], 'line 5 has a "=======" marker inside the REPLACE text of the block opened at line 1'],
    ['a divider with text after it', ['<<<<<<< SEARCH', 'a();', '======= then', 'b();', '>>>>>>> REPLACE'], 'line 3 has a "======= then" marker inside the SEARCH text of the block opened at line 1'],
    ['a misspelt closing marker', ['<<<<<<< SEARCH', 'a();', '=======', 'b();', '>>>>>>> REPLACED'], 'line 5 has a ">>>>>>> REPLACED" marker inside the REPLACE text of the block opened at line 1'],
    ['an opening marker of another kind', ['<<<<<<< HEAD', 'a();'], 'line 1 opens a block with "<<<<<<< HEAD" instead of "<<<<<<< SEARCH" and an optional path'],
    ['an opening marker glued to its path', ['<<<<<<< SEARCHsrc/a.ts', 'a();'], 'line 1 opens a block with "<<<<<<< SEARCHsrc/a.ts" instead of "<<<<<<< SEARCH" and an optional path'],
    ['a long broken opening marker, shown cut', ['<<<<<<< SEARCH-AND-REPLACE in src/some/deeply/nested/path.ts'], 'line 1 opens a block with "<<<<<<< SEARCH-AND-REPLACE in src/some/d" instead of "<<<<<<< SEARCH" and an optional path'],
    ['a long marker inside SEARCH text, shown cut', ['<<<<<<< SEARCH', '>>>>>>> REPLACE and then some'], 'line 2 has a ">>>>>>> REPLACE and " marker inside the SEARCH text of the block opened at line 1'],
    ['a long marker inside REPLACE text, shown cut', ['<<<<<<< SEARCH', 'a();', '=======', '======= and more text here'], 'line 4 has a "======= and more tex" marker inside the REPLACE text of the block opened at line 1'],
    ['a divider outside any block', ['Summary: x', '=======', 'b();', '>>>>>>> REPLACE'], 'line 2 has a "=======" marker outside a <<<<<<< SEARCH block'],
    ['a closing marker outside any block', ['a();', '>>>>>>> REPLACE'], 'line 2 has a ">>>>>>>" marker outside a <<<<<<< SEARCH block'],
    ['an answer with no block at all', ['Summary: nothing to change.', 'The code is fine.'], 'it has no <<<<<<< SEARCH block'],
  ])('refuses %s, naming what is wrong', (_case, lines, why) => {
    const error = refusalOf(lines.join('\n'));
    expect(error.reason).toBe('invalidEdit');
    expect(error.message).toBe(`The model's edit was not usable (${why}); nothing was changed. Try again.`);
  });
});

describe('looksLikeTextEdits', () => {
  it('is true for an answer with any marker line, well-formed or not, and false for prose', () => {
    expect(looksLikeTextEdits(oneBlock)).toBe(true);
    expect(looksLikeTextEdits('The fix:\r\n=======\r\n')).toBe(true);
    expect(looksLikeTextEdits('Use a guard clause; compare with === not ==.')).toBe(false);
  });
});
