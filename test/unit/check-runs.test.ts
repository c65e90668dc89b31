import { describe, expect, it } from 'vitest';
import type { Diagnostic } from 'vscode-languageserver-types';
import { CheckRunLog, checksSummary } from '../../server/src/agent/check-runs.js';
import type { CheckResult } from '../../server/src/agent/check-commands.js';
import { maxDoCheckErrors, maxDoChecks } from '../../server/src/protocol.js';

const error = (line: number, message: string, extra: Partial<Diagnostic> = {}): Diagnostic => ({
  range: { start: { line, character: 0 }, end: { line, character: 4 } },
  message,
  severity: 1,
  ...extra,
});

const failedTest = (output = 'FAIL total'): CheckResult => ({
  kind: 'failed',
  command: 'test',
  argv: ['npm', 'test'],
  exitCode: 1,
  durationMs: 1200,
  output,
  streamOutput: output,
  firstFailure: 'FAIL total',
});
const passedTest: CheckResult = { kind: 'passed', command: 'test', argv: ['npm', 'test'], exitCode: 0, durationMs: 900, output: 'ok', streamOutput: 'ok', firstFailure: undefined };

describe('CheckRunLog: the checks of one do job for its result', () => {
  it('lists the language server’s new errors with 1-based lines, their source and code, and says which run is the latest and of the final change', () => {
    const log = new CheckRunLog();
    log.recordLanguageServer({ checked: [{ displayPath: 'src/a.ts', introduced: [error(3, "Type 'number'\n  is not assignable", { source: 'typescript', code: 2322 })], removed: 1 }] }, 'first');
    log.step = 2;
    log.recordLanguageServer({ checked: [{ displayPath: 'src/a.ts', introduced: [], removed: 1 }] }, 'second');

    expect(log.results('second')).toEqual([
      {
        kind: 'languageServer',
        step: 1,
        on: 'proposal',
        outcome: 'failed',
        passed: false,
        latest: false,
        ofFinalChange: false,
        files: ['src/a.ts'],
        newErrors: [{ path: 'src/a.ts', line: 4, message: "Type 'number' is not assignable", source: 'typescript', code: 2322 }],
        newErrorCount: 1,
        fixedErrors: 1,
      },
      { kind: 'languageServer', step: 2, on: 'proposal', outcome: 'passed', passed: true, latest: true, ofFinalChange: true, files: ['src/a.ts'], newErrors: [], newErrorCount: 0, fixedErrors: 1 },
    ]);
    // A clean last check says nothing in the summary.
    expect(log.languageServerLine('second')).toBeUndefined();
  });

  it('lists at most maxDoCheckErrors new errors, counts them all, and cuts a huge message', () => {
    const log = new CheckRunLog();
    const many = Array.from({ length: 25 }, (_, i) => error(i, i === 0 ? 'x'.repeat(2_000) : `error ${i}`));
    log.recordLanguageServer({ checked: [{ displayPath: 'big.ts', introduced: many, removed: 0 }] }, 'p');
    const [run] = log.results('p');
    expect(run?.newErrors).toHaveLength(maxDoCheckErrors);
    expect(run?.newErrorCount).toBe(25);
    expect(run?.newErrors?.[0]?.message).toHaveLength(500);
    expect(log.languageServerLine('p')).toBe(`- language server: 25 new errors: big.ts:1: ${'x'.repeat(499)}…; big.ts:2: error 1; big.ts:3: error 2; and 22 more`);
  });

  it('records a language server that could not check as not run, and says so in the summary', () => {
    const log = new CheckRunLog();
    log.recordLanguageServer({ checked: [], failure: 'pylsp did not answer within 5 s.' }, 'p');
    expect(log.results('p')).toEqual([
      { kind: 'languageServer', step: 1, on: 'proposal', outcome: 'notRun', passed: false, latest: true, ofFinalChange: true, reason: 'the language server could not check the change: pylsp did not answer within 5 s.' },
    ]);
    expect(log.languageServerLine('p')).toBe('- language server: not checked (the language server could not check the change: pylsp did not answer within 5 s.)');
  });

  it('records nothing for a change with nothing to check (a rename)', () => {
    const log = new CheckRunLog();
    log.recordLanguageServer({ checked: [] }, 'p');
    expect(log.results('p')).toEqual([]);
  });

  it('says on what a failing language-server check ran when it is not the change handed over', () => {
    const log = new CheckRunLog();
    log.recordLanguageServer({ checked: [{ displayPath: 'a.py', introduced: [error(0, 'undefined name')], removed: 0 }] }, 'p');
    expect(log.languageServerLine(undefined)).toBe('- language server: 1 new error on a proposed change that was not handed over: a.py:1: undefined name');
    expect(log.languageServerLine('other')).toBe('- language server: 1 new error on an earlier version of the change (the final one was not checked): a.py:1: undefined name');
  });

  it('records commands: on the workspace when no proposal came with them, not run with the reason, output only when there is some', () => {
    const log = new CheckRunLog();
    log.recordCommand(failedTest(''), undefined);
    log.recordCommand({ kind: 'notRun', command: 'lint', why: 'the user denied it', reason: 'The check "lint" was not run.', final: true }, 'p');
    expect(log.results(undefined)).toEqual([
      { kind: 'command', name: 'test', step: 1, on: 'workspace', outcome: 'failed', passed: false, latest: true, ofFinalChange: false, exitCode: 1 },
      { kind: 'command', name: 'lint', step: 1, on: 'proposal', outcome: 'notRun', passed: false, latest: true, ofFinalChange: false, reason: 'the user denied it' },
    ]);
  });

  it(`keeps at most ${maxDoChecks} runs, dropping the earliest superseded ones and never the last run of a check`, () => {
    const log = new CheckRunLog();
    log.recordCommand(failedTest(), 'p0');
    log.recordLanguageServer({ checked: [{ displayPath: 'a.ts', introduced: [error(0, 'still broken')], removed: 0 }] }, 'p0');
    for (let step = 1; step <= 30; step++) {
      log.step = step;
      log.recordCommand(step === 30 ? passedTest : failedTest(), `p${step}`);
    }
    const results = log.results('p30');
    expect(results).toHaveLength(maxDoChecks);
    // The language server's only run is its latest: kept, though it is the oldest but one.
    expect(results[0]).toMatchObject({ kind: 'languageServer', latest: true, outcome: 'failed' });
    expect(results.at(-1)).toMatchObject({ kind: 'command', step: 30, latest: true, ofFinalChange: true, passed: true });
    expect(results.slice(1).map((run) => run.step)).toEqual(Array.from({ length: maxDoChecks - 1 }, (_, i) => 30 - (maxDoChecks - 2) + i));
  });
});

describe('CheckRunLog: what a language server or a command may send', () => {
  it('keeps a diagnostic’s message on one line, trimmed, whole up to 500 characters; a message that is not text becomes empty', () => {
    const log = new CheckRunLog();
    const exactly = 'y'.repeat(500);
    const notText = { kind: 'markdown', value: '**bad**' } as unknown as string;
    log.recordLanguageServer({ checked: [{ displayPath: 'a.ts', introduced: [error(0, '  spaced\n  out  '), error(1, exactly), error(2, notText)], removed: 0 }] }, 'p');
    expect(log.results('p')[0]?.newErrors?.map((e) => e.message)).toEqual(['spaced out', exactly, '']);
  });

  it('names source and code only when the server gave them (an empty source is none)', () => {
    const log = new CheckRunLog();
    log.recordLanguageServer({ checked: [{ displayPath: 'a.py', introduced: [error(0, 'one'), error(1, 'two', { source: '', code: 'E1' }), error(2, 'three', { source: 'pyflakes', code: 0 })], removed: 0 }] }, 'p');
    expect(log.results('p')[0]?.newErrors).toStrictEqual([
      { path: 'a.py', line: 1, message: 'one' },
      { path: 'a.py', line: 2, message: 'two', code: 'E1' },
      { path: 'a.py', line: 3, message: 'three', source: 'pyflakes', code: 0 },
    ]);
  });

  it('carries a command’s output when it printed some', () => {
    const log = new CheckRunLog();
    log.recordCommand(failedTest('FAIL total\n1 failed'), 'p');
    expect(log.results('p')).toStrictEqual([
      { kind: 'command', name: 'test', step: 1, on: 'proposal', outcome: 'failed', passed: false, latest: true, ofFinalChange: true, exitCode: 1, output: 'FAIL total\n1 failed' },
    ]);
  });

  it('has no language-server line without a language-server run, and finds its run among later command runs', () => {
    const log = new CheckRunLog();
    expect(log.languageServerLine('p')).toBeUndefined();
    log.recordLanguageServer({ checked: [{ displayPath: 'a.py', introduced: [error(0, 'undefined name')], removed: 0 }] }, 'p');
    log.recordCommand(passedTest, 'p');
    expect(log.languageServerLine('p')).toBe('- language server: 1 new error: a.py:1: undefined name');
  });

  it('with more different checks than it may hold, drops the oldest', () => {
    const log = new CheckRunLog(2);
    for (const command of ['test', 'lint', 'typecheck']) log.recordCommand({ ...passedTest, command }, 'p');
    expect(log.results('p').map((run) => run.name)).toEqual(['lint', 'typecheck']);
  });
});

describe('checksSummary', () => {
  it('heads the lines by whether a change was handed over, and is empty without any', () => {
    expect(checksSummary(true, ['- test: passed'])).toBe('Checks of the proposed change:\n- test: passed');
    expect(checksSummary(false, ['- test: passed', '- lint: passed'])).toBe('Checks:\n- test: passed\n- lint: passed');
    expect(checksSummary(true, [])).toBe('');
  });
});
