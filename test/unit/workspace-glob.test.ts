import { describe, expect, it } from 'vitest';
import { compileGlob, GlobSyntaxError } from '../../server/src/agent/workspace-glob.js';

function expectMatches(pattern: string, cases: Record<string, boolean>): void {
  const matcher = compileGlob(pattern);
  for (const [path, expected] of Object.entries(cases)) expect(matcher(path), `${pattern} vs ${path}`).toBe(expected);
}

describe('glob matcher', () => {
  it('matches the patterns a model writes', () => {
    const cases: [string, string, boolean][] = [
      ['*.ts', 'src/cart.ts', true],
      ['*.ts', 'src/cart.tsx', false],
      ['src/**', 'src/util/money.ts', true],
      ['src/**', 'test/cart.ts', false],
      ['src/*.ts', 'src/util/money.ts', false],
      ['src/**/*.ts', 'src/cart.ts', true],
      ['src/**/*.ts', 'src/util/money.ts', true],
      ['**/money.ts', 'src/util/money.ts', true],
      ['**/money.ts', 'money.ts', true],
      ['*.{ts,tsx}', 'src/view.tsx', true],
      ['src/', 'src/cart.ts', true],
      ['src', 'src/cart.ts', true],
      ['./src/*.ts', 'src/cart.ts', true],
      ['src/cart.?s', 'src/cart.ts', true],
      ['[!c]*.ts', 'src/cart.ts', false],
      ['file(1).ts', 'file(1).ts', true],
    ];
    for (const [pattern, path, expected] of cases) expect(compileGlob(pattern)(path), `${pattern} vs ${path}`).toBe(expected);
  });

  it('* and ? stay within one path segment', () => {
    expectMatches('src/*', { 'src/cart.ts': true, 'src/util/money.ts': false, 'src/': true });
    expectMatches('src/?art.ts', { 'src/cart.ts': true, 'src/part.ts': true, 'src/art.ts': false, 'src//art.ts': false });
    expectMatches('test/*.test.ts', { 'test/cart.test.ts': true, 'test/unit/cart.test.ts': false, 'test/cart.ts': false });
  });

  it('** stands for any number of directories, none included', () => {
    expectMatches('src/**/money.ts', { 'src/money.ts': true, 'src/util/money.ts': true, 'src/a/b/c/money.ts': true, 'lib/util/money.ts': false });
    expectMatches('**/test/*.ts', { 'test/cart.ts': true, 'packages/shop/test/cart.ts': true, 'packages/shop/test/unit/cart.ts': false });
    expectMatches('src/**', { 'src/cart.ts': true, 'src/a/b/c.ts': true, 'srcs/cart.ts': false });
    // Inside a segment, ** is any run of characters, / included.
    expectMatches('src/a**z.ts', { 'src/az.ts': true, 'src/a/b/z.ts': true, 'src/b/z.ts': false });
    // ** ending a segment it did not start still needs the / after it.
    expectMatches('test**/*.ts', { 'test/cart.ts': true, 'tests/cart.ts': true, 'test/unit/cart.ts': true, 'testcart.ts': false });
    // **/ stands for whole directories: what comes before the name ends with a /.
    expectMatches('**/money.ts', { 'xmoney.ts': false, 'src/xmoney.ts': false, 'src/money.ts': true });
    expectMatches('{src,lib}/**/money.ts', { 'src/money.ts': true, 'lib/util/money.ts': true, 'srcmoney.ts': false });
  });

  it('character classes: sets, ranges, negation with ! or ^, never a /', () => {
    expectMatches('v[0-9].ts', { 'v1.ts': true, 'v9.ts': true, 'va.ts': false });
    expectMatches('[abc].md', { 'a.md': true, 'c.md': true, 'd.md': false });
    expectMatches('[!a-c].md', { 'a.md': false, 'd.md': true });
    expectMatches('[^a-c].md', { 'b.md': false, 'z.md': true });
    expectMatches('a[!x]b/*', { 'a/b/c': false, 'ayb/c': true });
    expectMatches('[]]x', { ']x': true, 'ax': false });
    expectMatches('[!]]x', { ']x': false, 'ax': true });
    expectMatches('[!a]x', { '!x': true, 'ax': false, 'bx': true });
    expectMatches('[b-d].md', { 'a.md': false, 'b.md': true, 'd.md': true, 'e.md': false });
    // A range either way round; a member between others is not a range; a - first or last is a member.
    expectMatches('v[9-0].ts', { 'v0.ts': true, 'v5.ts': true, 'va.ts': false });
    expectMatches('[azb].md', { 'z.md': true, 'a.md': true, 'c.md': false });
    expectMatches('[a-].md', { 'a.md': true, '-.md': true, 'b.md': false });
    expectMatches('[-a].md', { 'a.md': true, '-.md': true, 'b.md': false });
    expectMatches('[a-cx-z].md', { 'b.md': true, 'y.md': true, 'm.md': false });
    // An unclosed [ is a literal.
    expectMatches('a[b', { 'a[b': true, 'ab': false });
  });

  it('braces: alternatives with wildcards inside, nested, and a literal { when unclosed', () => {
    expectMatches('src/**/*.{ts,tsx}', { 'src/a.ts': true, 'src/ui/b.tsx': true, 'src/ui/b.js': false });
    expectMatches('{src,test}/**/*.ts', { 'src/a.ts': true, 'test/unit/b.ts': true, 'lib/a.ts': false });
    expectMatches('*.{ts,{m,c}js}', { 'a.ts': true, 'a.mjs': true, 'a.cjs': true, 'a.js': false });
    expectMatches('{**/fixtures/*,docs/*.md}', { 'test/fixtures/a.json': true, 'fixtures/b.json': true, 'docs/readme.md': true, 'docs/x/readme.md': false });
    expectMatches('a{b', { 'a{b': true, 'ab': false });
    expectMatches('{a}', { a: true, '{a}': false });
    expectMatches('*.{,bak}', { 'notes.': true, 'notes.bak': true, 'notes.txt': false });
  });

  it('a pattern without a slash matches the name at any depth; one without wildcards also matches below it', () => {
    expectMatches('money.ts', { 'money.ts': true, 'src/util/money.ts': true, 'src/util/money.tsx': false });
    expectMatches('src/util', { 'src/util/money.ts': true, 'src/utility.ts': false });
    expectMatches('/src/*.ts', { 'src/cart.ts': true });
    expectMatches('  src/*.ts\n', { 'src/cart.ts': true });
    // With wildcards a pattern names whole paths only: pages/[id] is a class (pages/i, pages/d), not the folder called [id].
    expectMatches('pages/[id]', { 'pages/i': true, 'pages/[id]/index.tsx': false, 'pages/i/index.tsx': false });
    expectMatches('src\\util\\*.ts', { 'src/util/money.ts': true });
  });

  it('matches names outside ASCII character by character', () => {
    expectMatches('caf?.md', { 'café.md': true, 'cafe.md': true, 'caf.md': false });
    expectMatches('notes-?.md', { 'notes-😀.md': true, 'notes-😀😀.md': false });
    expectMatches('[😀-😂].txt', { '😁.txt': true, '😃.txt': false });
  });

  it('takes braces nested 16 deep and refuses deeper ones, with a reason', () => {
    const nested = (depth: number) => `${'{a,'.repeat(depth)}b${'}'.repeat(depth)}`;
    expectMatches(nested(16), { a: true, b: true, c: false });
    for (const depth of [17, 40]) {
      expect(() => compileGlob(nested(depth))).toThrow(GlobSyntaxError);
      expect(() => compileGlob(nested(depth))).toThrow(expect.objectContaining({ message: 'braces are nested more than 16 deep' }));
    }
  });

  // Each of these takes exponential time as a backtracking regex (`[^/]*a[^/]*a…`
  // against a long name that does not match); here each is one pass over the
  // name per live state. The assertions are on results: were the matcher
  // exponential, these would not finish within the test's timeout.
  it('answers adversarial patterns against long names', () => {
    const longName = 'a'.repeat(60);
    const deepPath = `${'a/'.repeat(200)}${'a'.repeat(200)}`;
    const adversarial: [string, string, boolean][] = [
      ['*a*a*a*a*a*a*a*a*b', longName, false],
      ['*a*a*a*a*a*a*a*a*a', longName, true],
      [`${'*a'.repeat(100)}*b`, 'a'.repeat(4_000), false],
      ['**/**/**/**/**/**/**/**/**/b', deepPath, false],
      ['**a**a**a**a**a**a**a**a**b', deepPath, false],
      [`${'{a,aa}'.repeat(30)}b`, longName, false],
      [`${'{*,**}'.repeat(30)}b`, deepPath, false],
      [`${'?'.repeat(60)}`, longName, true],
      [`${'[a-z]*'.repeat(50)}!`, longName, false],
    ];
    for (const [pattern, path, expected] of adversarial) expect(compileGlob(pattern)(path), pattern).toBe(expected);
  });
});
