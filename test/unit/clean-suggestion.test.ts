import { describe, expect, it } from 'vitest';
import { cleanSuggestion, stripFences, type SuggestionContext } from '../../server/src/completion/clean-suggestion.js';

/** The cursor at the end of `linePrefix`, nothing after it on the line. */
function atEnd(linePrefix: string, more: Partial<SuggestionContext> = {}): SuggestionContext {
  return { linePrefix, suffixOnLine: '', indent: /^[ \t]*/.exec(linePrefix)?.[0] ?? '', ...more };
}

const reduceCall = atEnd('    return this.items.reduce(');

describe('cleanSuggestion: Markdown fences', () => {
  it('takes the body of a fenced reply, with or without a language, leading blank lines or a closing fence glued to the code', () => {
    expect(cleanSuggestion('```typescript\n(a, b) => a + b, 0);\n```', reduceCall)).toBe('(a, b) => a + b, 0);');
    expect(cleanSuggestion('```\nfoo()\n```\n', reduceCall)).toBe('foo()');
    expect(stripFences('\n\n```ts\nsum(a, b)\n```')).toBe('sum(a, b)');
    expect(stripFences('```ts\nsum(a, b)```')).toBe('sum(a, b)');
    expect(stripFences('  ```typescript\nsum(a, b)```\n')).toBe('sum(a, b)');
    expect(stripFences('```c++\nstd::max(a, b)\n```  \n')).toBe('std::max(a, b)');
  });

  it('answers empty for a fence with nothing in it', () => {
    expect(stripFences('```\n```')).toBe('');
    expect(cleanSuggestion('```ts\n```', reduceCall)).toBe('');
  });

  it('drops a lone opening fence, with or without a language and spaces after it', () => {
    expect(stripFences('```ts\nsum(a, b)')).toBe('sum(a, b)');
    expect(stripFences('```\nsum(a, b)')).toBe('sum(a, b)');
    expect(stripFences('\n```python  \nsum(a, b)')).toBe('sum(a, b)');
  });

  it('drops a lone closing fence, with or without what follows it', () => {
    expect(stripFences('sum(a, b)\n```')).toBe('sum(a, b)');
    expect(stripFences('sum(a, b)\n```\n')).toBe('sum(a, b)');
  });

  it('leaves a fence in the middle of the reply alone, and does not unwrap a reply that goes on after its closing fence', () => {
    expect(stripFences('sum(a, b)\n```\ntotal')).toBe('sum(a, b)\n```\ntotal');
    expect(stripFences('Here:\n```ts\nsum(a, b)\n```')).toBe('Here:\n```ts\nsum(a, b)');
    expect(stripFences('```ts\nsum(a, b)\n```\nThis adds them.')).toBe('sum(a, b)\n```\nThis adds them.');
  });
});

describe('cleanSuggestion: an echo of the line typed so far', () => {
  it('removes the line the model repeated, with its indentation or without', () => {
    expect(cleanSuggestion('    return this.items.reduce((a, b) => a + b, 0);', reduceCall)).toBe('(a, b) => a + b, 0);');
    expect(cleanSuggestion('return this.items.reduce((a, b) => a + b, 0);', reduceCall)).toBe('(a, b) => a + b, 0);');
  });

  it('removes an echo of a line of exactly four characters', () => {
    expect(cleanSuggestion('    if (x > 0) {', atEnd('    if ('))).toBe('x > 0) {');
  });

  it('keeps a repetition of a short line: it may be meant ("[" then "[0, 1]")', () => {
    expect(cleanSuggestion('[0, 1], [1, 0]],', atEnd('    ['))).toBe('[0, 1], [1, 0]],');
  });
});

describe('cleanSuggestion: spaces at the cursor', () => {
  it('drops the suggestion’s leading spaces and tabs when the line already ends in one', () => {
    expect(cleanSuggestion('  items.length;', atEnd('const total = '))).toBe('items.length;');
    expect(cleanSuggestion(' \t items.length;', atEnd('const total =\t'))).toBe('items.length;');
  });

  it('keeps them when the line does not end in a space', () => {
    expect(cleanSuggestion(' b);', atEnd('  sum(a,'))).toBe(' b);');
  });
});

describe('cleanSuggestion: trailing whitespace and blank lines', () => {
  it('drops spaces and tabs at the end of every line', () => {
    expect(cleanSuggestion('items.length; \t ', atEnd('const total = '))).toBe('items.length;');
    expect(cleanSuggestion(' {\n  return 0;  \n}\t', atEnd('if (empty)'))).toBe(' {\n  return 0;\n}');
  });

  it('drops blank lines at the end, however many', () => {
    expect(cleanSuggestion('(a, b) => a + b, 0);\n\n  \n', reduceCall)).toBe('(a, b) => a + b, 0);');
    expect(cleanSuggestion(' {\n  return 0;\n}\n\n', atEnd('if (empty)'))).toBe(' {\n  return 0;\n}');
  });

  it('answers empty for a reply of only whitespace', () => {
    expect(cleanSuggestion('  \n ', reduceCall)).toBe('');
    expect(cleanSuggestion('\n\n', { ...reduceCall, suffixOnLine: ');' })).toBe('');
  });
});

describe('cleanSuggestion: in the middle of a line', () => {
  const mid = { linePrefix: '  greet(name', suffixOnLine: ');', indent: '  ' };

  it('keeps only the first line, so the user’s line is not split', () => {
    expect(cleanSuggestion(': string\n  more', mid)).toBe(': string');
  });

  it('counts only spaces after the cursor as the end of the line', () => {
    expect(cleanSuggestion(' {\n  return 0;\n}', atEnd('if (empty)', { suffixOnLine: '  ' }))).toBe(' {\n  return 0;\n}');
  });
});

describe('cleanSuggestion: text already after the cursor', () => {
  const mid = { linePrefix: '  greet(name', suffixOnLine: ');', indent: '  ' };

  it('removes the rest of the line when the suggestion ends with it, however short', () => {
    expect(cleanSuggestion(': string);', mid)).toBe(': string');
    expect(cleanSuggestion('0px', { linePrefix: '  width: 10', suffixOnLine: 'px  ', indent: '  ' })).toBe('0');
  });

  it('removes the beginning of the rest of the line when the suggestion ends with it', () => {
    expect(cleanSuggestion(': string)', mid)).toBe(': string');
    expect(cleanSuggestion('x > 0) {', { linePrefix: '  if (', suffixOnLine: ') {  ', indent: '  ' })).toBe('x > 0');
  });

  it('removes a word-like overlap of three characters or more, not a shorter one', () => {
    expect(cleanSuggestion('Math.max', { linePrefix: '  const m = ', suffixOnLine: 'max(a, b);', indent: '  ' })).toBe('Math.');
    expect(cleanSuggestion('filter(items', { linePrefix: '  return ', suffixOnLine: 'items);', indent: '  ' })).toBe('filter(');
    expect(cleanSuggestion('2 * x', { linePrefix: 'const y = ', suffixOnLine: 'x + 1', indent: '' })).toBe('2 * x');
  });

  it('answers empty when only spaces would be left', () => {
    expect(cleanSuggestion(' )', { linePrefix: '  sum(a,', suffixOnLine: ')', indent: '  ' })).toBe('');
  });
});

describe('cleanSuggestion: lines that already follow', () => {
  const method = atEnd('  total(): number {', { followingText: '  }\n}\n' });

  it('drops trailing lines that repeat the lines after the cursor', () => {
    expect(cleanSuggestion('\n    return 0;\n  }', method)).toBe('\n    return 0;');
    expect(cleanSuggestion('\n    return 0;\n  }\n}', method)).toBe('\n    return 0;');
  });

  it('keeps lines that repeat only part of what follows, or that it does not follow', () => {
    expect(cleanSuggestion('\n    return 0;\n  }\n  next(): void {}', method)).toBe('\n    return 0;\n  }\n  next(): void {}');
    expect(cleanSuggestion('\n    return 0;\n  }', { ...method, followingText: '  // total\n  }\n' })).toBe('\n    return 0;\n  }');
  });

  it('compares a repeated tail with blank lines in it line by line', () => {
    const c = atEnd('  total(): number {', { followingText: '  }\n\n  next(): void {}\n}\n' });
    expect(cleanSuggestion('\n    return 0;\n  }\n\n  next(): void {}', c)).toBe('\n    return 0;');
  });

  it('ignores trailing whitespace in the lines that follow, and a blank line right after the cursor’s line', () => {
    expect(cleanSuggestion('\n    return 0;\n  }', { ...method, followingText: '  }  \t\n}\n' })).toBe('\n    return 0;');
    expect(cleanSuggestion('\n    return 0;\n  }', { ...method, followingText: '\n  }\n}\n' })).toBe('\n    return 0;');
  });

  it('reads CRLF documents the same way', () => {
    expect(cleanSuggestion('\n    return 0;\n  }\n}', { ...method, followingText: '  }\r\n}\r\n', eol: '\r\n' })).toBe('\r\n    return 0;');
    expect(cleanSuggestion('\n    return 0;\n  }', { ...method, followingText: '\r\n  }\r\n}\r\n', eol: '\r\n' })).toBe('\r\n    return 0;');
  });

  it('cuts nothing when it does not know what follows', () => {
    expect(cleanSuggestion('\n    return 0;\n  }', atEnd('  total(): number {'))).toBe('\n    return 0;\n  }');
  });
});

describe('cleanSuggestion: indentation', () => {
  it('shifts lines the model wrote at column 0 after a block opener to the cursor line’s indentation', () => {
    const c = atEnd('    if (this.items.length === 0) {');
    expect(cleanSuggestion('\nreturn 0;\n}', c)).toBe('\n    return 0;\n    }');
    // The opener may be in the suggestion's first line rather than before the cursor.
    expect(cleanSuggestion(' {\nreturn 0;\n}', atEnd('    if (this.items.length === 0)'))).toBe(' {\n    return 0;\n    }');
    expect(cleanSuggestion('\nreturn 0;\n\nfoo();', c)).toBe('\n    return 0;\n\n    foo();');
    expect(cleanSuggestion('\nreturn 0;\n\u00a0\nfoo();', c)).toBe('\n    return 0;\n\n    foo();');
  });

  it('does not shift lines the model indented itself, or a dedent after anything but an opener', () => {
    expect(cleanSuggestion('\n        return 0;\n    }', atEnd('    if (x) {'))).toBe('\n        return 0;\n    }');
    expect(cleanSuggestion('\n}', atEnd('  foo();'))).toBe('\n}');
    expect(cleanSuggestion('\n}', atEnd('  foo();', { followingText: '' }))).toBe('\n}');
  });

  it('writes the indentation in tabs when the document uses them', () => {
    const tabs = atEnd('\tif (x) {', { tabSize: 4 });
    expect(cleanSuggestion('\n        return 0;\n    }', tabs)).toBe('\n\t\treturn 0;\n\t}');
    expect(cleanSuggestion('\nreturn 0;\n}', atEnd('\tif (x) {'))).toBe('\n\treturn 0;\n\t}');
    expect(cleanSuggestion('\n    return 0;\n}', atEnd('\tif (x) {', { tabSize: 2 }))).toBe('\n\t\treturn 0;\n}');
    expect(cleanSuggestion('\n      return 0;', atEnd('if (x) {', { useTabs: true }))).toBe('\n\t  return 0;');
    expect(cleanSuggestion('\n\treturn 0;', atEnd('if (x) {', { useTabs: false, tabSize: 2 }))).toBe('\n  return 0;');
  });

  it('leaves the first line where the cursor is', () => {
    expect(cleanSuggestion(' {\n  return 0;\n}', atEnd('    if (x)'))).toBe(' {\n  return 0;\n}');
    expect(cleanSuggestion(' x > 0 ? 1 : 0', atEnd('    const sign ='))).toBe(' x > 0 ? 1 : 0');
  });

  it('keeps spaces inside a line that has no indentation of its own', () => {
    expect(cleanSuggestion('\nreturn a + b;', atEnd('    if (x) {'))).toBe('\n    return a + b;');
  });
});

describe('cleanSuggestion: line breaks', () => {
  it("writes the file's own line breaks, whatever mix the model sent", () => {
    const reply = '(a, b) => {\r    const sum = a + b;\r\n    return sum;\n  }, 0);';
    expect(cleanSuggestion(reply, { ...reduceCall, eol: '\r\n' })).toBe('(a, b) => {\r\n    const sum = a + b;\r\n    return sum;\r\n  }, 0);');
    expect(cleanSuggestion(reply, { ...reduceCall, eol: '\n' })).toBe('(a, b) => {\n    const sum = a + b;\n    return sum;\n  }, 0);');
    expect(cleanSuggestion(reply, reduceCall)).toBe('(a, b) => {\n    const sum = a + b;\n    return sum;\n  }, 0);');
  });

  it('keeps CRLF documents CRLF', () => {
    expect(cleanSuggestion('a\nb', { linePrefix: 'x', suffixOnLine: '', indent: '', eol: '\r\n' })).toBe('a\r\nb');
  });
});
