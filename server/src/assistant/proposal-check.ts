/**
 * Checks a proposed change with the user's own language server before the
 * editor sees it: for each file the change edits or creates, the text as it
 * is and the text as it would be are opened at shadow documents of their own
 * (see proxy/wrapped-server-link.ts), and the errors the second has that the
 * first has not are the change's new errors. A change that brings new errors
 * is refused with them, so the agent fixes it within its step and token
 * limits; the stream says what each check found.
 *
 * Both sides of the comparison are shadows, so they are judged alike: a
 * shadow may sit in another project than the file itself (tsserver puts a
 * file that is not on disk in an inferred project), and comparing it with
 * the editor's diagnostics would count that difference as the change's.
 * Errors are matched by code and message, not position: lines move when
 * code is added above them.
 *
 * What it cannot see: errors the change causes in files it does not touch
 * (a renamed export breaking an importer), since the other files still see
 * the original. A check that cannot run (the server is slow, stopped, or
 * publishes nothing) lets the change through with a note saying so.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { PlannedChange, PlannedFile } from './change-plan.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { rebaseEdits, type OffsetEdit } from '../documents/rebase.js';
import type { LanguageIntelligence } from '../agent/language-intelligence.js';
import { sha256Of } from '../agent/read-ledger.js';
import { languageIdFor } from '../agent/semantic-tools.js';

export interface ProposalCheckerOptions {
  intelligence: LanguageIntelligence;
  /** The open document `uri` names, if it is open. */
  document(uri: string): TrackedDocument | undefined;
  /** A file's text on disk, or undefined when it cannot be read. */
  readDisk(realPath: string, displayPath: string): Promise<string | undefined>;
  /** Files of one change checked at most; the rest are let through unchecked, with a note. @default 5 */
  maxFiles?: number;
  /** New errors listed to the model at most. @default 20 */
  maxErrorsListed?: number;
}

export interface CheckVerdict {
  /** Why the change is refused (its new errors), for the model; undefined when it may go on. */
  refusal: string | undefined;
  /** One line per file checked, for the user's stream. */
  notes: string[];
  /** What each file checked brings and removes, for the job's result. */
  checked: { displayPath: string; introduced: Diagnostic[]; removed: number }[];
  /** Why the language server could not check the change, when it could not. */
  failure?: string;
}

interface FileTexts {
  uri: string;
  displayPath: string;
  languageId: string;
  /** Undefined for a file the change creates: everything in it is new. */
  before: string | undefined;
  after: string;
}

interface FileFindings {
  file: FileTexts;
  introduced: Diagnostic[];
  removed: number;
}

export class ProposalChecker {
  private readonly maxFiles: number;
  private readonly maxErrorsListed: number;
  /** Jobs between `keepWarmDuring` and their end: the shadows stay open while there is one. */
  private jobsUnderway = 0;

  constructor(private readonly options: ProposalCheckerOptions) {
    this.maxFiles = options.maxFiles ?? 5;
    this.maxErrorsListed = options.maxErrorsListed ?? 20;
  }

  /** Whether there is a language server to check with (proxy mode, initialized). */
  available(): boolean {
    return this.options.intelligence.features().has('diagnostics');
  }

  /**
   * For an agent's job on a document, until `finished` settles: the
   * document's text goes to a shadow now, so the language server prepares it
   * (tsserver sets up a project for it) while the model reads and writes, and
   * the first check of a change to it is one change of that shadow, not a
   * cold start. The shadows kept open are closed when the last such job ends.
   */
  keepWarmDuring(uri: string, finished: Promise<unknown>): void {
    if (!this.available()) return;
    const { intelligence } = this.options;
    const doc = this.options.document(uri);
    if (doc !== undefined) intelligence.warmShadows?.({ uri: doc.uri, languageId: doc.languageId, texts: [doc.text] });
    this.jobsUnderway += 1;
    const ended = () => {
      this.jobsUnderway -= 1;
      if (this.jobsUnderway === 0) intelligence.closeShadows?.();
    };
    finished.then(ended, ended);
  }

  async check(plan: PlannedChange, signal: AbortSignal): Promise<CheckVerdict> {
    const notes: string[] = [];
    const texts: FileTexts[] = [];
    for (const file of plan.files) {
      if (texts.length >= this.maxFiles) {
        notes.push(`not checked: ${file.displayPath} (at most ${this.maxFiles} files of a change are checked)`);
        continue;
      }
      const found = await this.textsOf(file);
      if (typeof found === 'string') notes.push(found);
      else if (found !== undefined) texts.push(found);
    }
    let findings: FileFindings[];
    try {
      findings = await Promise.all(texts.map((file) => this.findings(file, signal)));
    } catch (error) {
      signal.throwIfAborted();
      const detail = error instanceof Error ? error.message : String(error);
      return { refusal: undefined, notes: [...notes, `could not check the change with the language server: ${detail}`], checked: [], failure: detail };
    }
    for (const { file, introduced, removed } of findings) notes.push(noteFor(file.displayPath, introduced.length, removed));
    const failing = findings.filter((found) => found.introduced.length > 0);
    const checked = findings.map(({ file, introduced, removed }) => ({ displayPath: file.displayPath, introduced, removed }));
    return { refusal: failing.length === 0 ? undefined : this.refusal(failing), notes, checked };
  }

  private async findings(file: FileTexts, signal: AbortSignal): Promise<FileFindings> {
    const texts = file.before === undefined ? [file.after] : [file.before, file.after];
    const results = await this.options.intelligence.diagnosticsOfTexts({ uri: file.uri, languageId: file.languageId, texts }, signal);
    const before = file.before === undefined ? [] : (results[0] ?? []);
    const after = results.at(-1) ?? [];
    return { file, ...newErrors(before, after) };
  }

  private refusal(failing: readonly FileFindings[]): string {
    const total = failing.reduce((sum, found) => sum + found.introduced.length, 0);
    const lines: string[] = [];
    for (const { file, introduced } of failing) {
      const afterLines = file.after.split(/\r?\n/);
      for (const diagnostic of introduced) {
        if (lines.length >= this.maxErrorsListed) break;
        const line = diagnostic.range.start.line;
        const origin = [diagnostic.source, diagnostic.code].filter((part) => part !== undefined && part !== '').join(' ');
        const code = origin === '' ? '' : ` [${origin}]`;
        const text = (afterLines[line] ?? '').trim().slice(0, 200);
        lines.push(`${file.displayPath}:${line + 1}: ${oneLine(diagnostic.message)}${code}\n    ${line + 1}| ${text}`);
      }
    }
    const more = total > lines.length ? [`(${total - lines.length} more not listed)`] : [];
    return [
      `The language server reports ${total} new error${total === 1 ? '' : 's'} in the change as proposed (line numbers are in the changed text):`,
      ...lines,
      ...more,
      'Nothing was applied. Fix these errors and propose the whole change again.',
    ].join('\n');
  }

  /** The file's text now and as the change would leave it; a note when it cannot be checked; undefined for what is not checked (a rename, a delete). */
  private async textsOf(file: PlannedFile): Promise<FileTexts | string | undefined> {
    switch (file.kind) {
      case 'create':
        return { uri: file.uri, displayPath: file.displayPath, languageId: languageIdFor(file.displayPath), before: undefined, after: file.text };
      case 'editOpen': {
        const doc = this.options.document(file.uri);
        if (doc === undefined || doc.openId !== file.openId) return `not checked: ${file.displayPath} was closed`;
        // Onto what the user has typed since: the text the change would really land in.
        const rebased = rebaseEdits(file.edits, file.baseVersion, doc, file.baseEpoch);
        if (!rebased.ok) return `not checked: ${file.displayPath} changed where the edit lands`;
        return { uri: doc.uri, displayPath: file.displayPath, languageId: doc.languageId, before: doc.text, after: applyOffsetEdits(doc.text, rebased.edits) };
      }
      case 'editDisk': {
        const now = await this.options.readDisk(file.guard.realPath, file.displayPath);
        if (now === undefined || sha256Of(now) !== file.guard.sha256) return `not checked: ${file.displayPath} changed on disk`;
        // Stryker disable next-line StringLiteral: equivalent, applyEdits does not read the language id
        const after = TextDocument.applyEdits(TextDocument.create(file.uri, '', 0, now), file.edits);
        return { uri: file.uri, displayPath: file.displayPath, languageId: languageIdFor(file.displayPath), before: now, after };
      }
      // Stryker disable next-line StringLiteral,ConditionalExpression: equivalent, a case left out falls off the switch, which returns undefined too
      case 'rename':
      // Stryker disable next-line StringLiteral,ConditionalExpression: equivalent, as above
      case 'delete':
        return undefined;
    }
  }
}

/** Errors `after` has beyond those of `before` (matched by code and message, as often as they occur), and how many of `before`'s are gone. */
export function newErrors(before: readonly Diagnostic[], after: readonly Diagnostic[]): { introduced: Diagnostic[]; removed: number } {
  const isError = (diagnostic: Diagnostic) => (diagnostic.severity ?? 1) === 1;
  const key = (diagnostic: Diagnostic) => `${String(diagnostic.code ?? '')}\u0000${oneLine(diagnostic.message)}`;
  const remaining = new Map<string, number>();
  for (const diagnostic of before.filter(isError)) remaining.set(key(diagnostic), (remaining.get(key(diagnostic)) ?? 0) + 1);
  const introduced: Diagnostic[] = [];
  for (const diagnostic of after.filter(isError)) {
    const left = remaining.get(key(diagnostic)) ?? 0;
    if (left > 0) remaining.set(key(diagnostic), left - 1);
    else introduced.push(diagnostic);
  }
  const removed = [...remaining.values()].reduce((sum, count) => sum + count, 0);
  return { introduced, removed };
}

/** The stream's line for one file: "2 new errors in src/a.ts; fixing", or that it is clean. */
export function noteFor(displayPath: string, introduced: number, removed: number): string {
  const fixes = removed > 0 ? `, ${removed} fixed` : '';
  if (introduced > 0) return `${introduced} new error${introduced === 1 ? '' : 's'} in ${displayPath}${fixes}; fixing`;
  return `checked ${displayPath}: no new errors${fixes}`;
}

/** Offsets are the text's; applied from the last, so the earlier ones stay valid. */
function applyOffsetEdits(text: string, edits: readonly OffsetEdit[]): string {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) result = result.slice(0, edit.start) + edit.newText + result.slice(edit.end);
  return result;
}

function oneLine(message: Diagnostic['message']): string {
  return (typeof message === 'string' ? message : '').replace(/\s+/g, ' ').trim();
}
