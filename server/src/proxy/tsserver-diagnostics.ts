/**
 * A completion signal for typescript-language-server's diagnostics.
 *
 * It pushes diagnostics with no "done" and no document version: after a
 * change it waits 300–800 ms (a debounce scaled to the file's length), asks
 * tsserver for `geterr` on every open file, and publishes what each of the
 * syntax, semantic and suggestion stages has reported so far, 50 ms after the
 * latest (typescript-language-server 4.x, `DiagnosticEventQueue`). A waiter can
 * only guess when the last stage has come.
 *
 * But it declares the command `typescript.tsserverRequest` (in
 * `executeCommandProvider`), which hands a tsserver command through and
 * answers with tsserver's response; `syntacticDiagnosticsSync`,
 * `semanticDiagnosticsSync` and `suggestionDiagnosticsSync` compute the three
 * stages for one open file with the same language-service calls `geterr`
 * makes, and answer when they are complete. The request comes after the
 * shadow's didOpen/didChange on the same connection, and both servers handle
 * a connection's messages in order, so the answer is for the text just sent.
 * Converted here as typescript-language-server converts them for its publish
 * (`toDiagnostic`).
 */
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver-types';

/** The command typescript-language-server declares for passing a request through to tsserver. */
export const tsserverRequestCommand = 'typescript.tsserverRequest';

/** tsserver's diagnostics commands for one file, in the order `geterr` runs its stages. */
export const tsserverDiagnosticsCommands = ['syntacticDiagnosticsSync', 'semanticDiagnosticsSync', 'suggestionDiagnosticsSync'] as const;

/** Whether the server's capabilities declare the pass-through command. */
export function offersTsserverRequests(executeCommandProvider: unknown): boolean {
  const commands = (executeCommandProvider as { commands?: unknown } | null | undefined)?.commands;
  return Array.isArray(commands) && commands.includes(tsserverRequestCommand);
}

interface TsserverLocation {
  line: number;
  offset: number;
}

interface TsserverDiagnostic {
  start: TsserverLocation;
  end: TsserverLocation;
  text: string;
  code?: number;
  category?: string;
  source?: string;
  reportsUnnecessary?: boolean;
  reportsDeprecated?: boolean;
}

/**
 * The LSP diagnostics in a `typescript.tsserverRequest` answer for one of the
 * diagnostics commands; an Error naming what went wrong when the answer is not
 * one (tsserver reported a failure, or the shape is not a diagnostics list).
 */
export function diagnosticsOfTsserverAnswer(answer: unknown): Diagnostic[] | Error {
  const response = answer as { success?: unknown; message?: unknown; body?: unknown } | null;
  if (response === null || typeof response !== 'object') return new Error('tsserver gave no response');
  if (response.success === false) return new Error(`tsserver answered: ${typeof response.message === 'string' ? response.message : 'failed'}`);
  if (!Array.isArray(response.body)) return new Error('tsserver answered without a list of diagnostics');
  const diagnostics: Diagnostic[] = [];
  for (const item of response.body as unknown[]) {
    const converted = toDiagnostic(item);
    if (converted !== undefined) diagnostics.push(converted);
  }
  return diagnostics;
}

function toDiagnostic(item: unknown): Diagnostic | undefined {
  const found = item as Partial<TsserverDiagnostic> | null;
  if (found === null || typeof found !== 'object' || !isLocation(found.start) || !isLocation(found.end) || typeof found.text !== 'string') return undefined;
  const tags: DiagnosticTag[] = [];
  if (found.reportsUnnecessary === true) tags.push(DiagnosticTag.Unnecessary);
  if (found.reportsDeprecated === true) tags.push(DiagnosticTag.Deprecated);
  return {
    range: { start: positionOf(found.start), end: positionOf(found.end) },
    message: found.text,
    severity: severityOf(found.category),
    ...(typeof found.code === 'number' ? { code: found.code } : {}),
    source: typeof found.source === 'string' && found.source !== '' ? found.source : 'typescript',
    ...(tags.length > 0 ? { tags } : {}),
  };
}

function isLocation(location: unknown): location is TsserverLocation {
  const found = location as Partial<TsserverLocation> | null;
  return found !== null && typeof found === 'object' && typeof found.line === 'number' && typeof found.offset === 'number';
}

/** tsserver counts lines and columns from 1. */
function positionOf(location: TsserverLocation): { line: number; character: number } {
  return { line: Math.max(0, location.line - 1), character: Math.max(0, location.offset - 1) };
}

/** As typescript-language-server maps them for its publish: any other category is an error. */
function severityOf(category: string | undefined): DiagnosticSeverity {
  switch (category) {
    case 'warning':
      return DiagnosticSeverity.Warning;
    case 'suggestion':
      return DiagnosticSeverity.Hint;
    default:
      return DiagnosticSeverity.Error;
  }
}
