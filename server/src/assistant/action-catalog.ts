/**
 * The actions offered as "Efrit: …" code actions: the built-in ones and the
 * user's own from the `actions` setting. Listing is pure data, so it costs no
 * model call and no document scan.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import type { UserAction } from '../settings/config.js';
import { ActionKinds, BuiltinActions } from '../protocol.js';

export interface ActionDefinition {
  id: string;
  /** Without the "Efrit: " prefix. */
  title: string;
  kind: string;
  /** Other kinds a client may ask for in `context.only` to get this action; it is then listed with the kind asked for. */
  kindAliases?: readonly string[];
  /** Whether the answer is an edit (true) or text for the user to read (false). */
  producesEdit: boolean;
  /** The request put to the model. */
  request(input: { instruction?: string | undefined; diagnostics: readonly Diagnostic[]; canCreateFiles?: boolean }): string;
}

export const titlePrefix = 'Efrit: ';

const defaultRewriteInstruction = 'Make this code clearer and simpler without changing what it does.';

function describeDiagnostic(diagnostic: Diagnostic): string {
  const source = diagnostic.source === undefined ? '' : ` (${diagnostic.source})`;
  const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
  return `line ${diagnostic.range.start.line + 1}: ${message}${source}`;
}

const builtins: readonly ActionDefinition[] = [
  {
    id: BuiltinActions.fix,
    title: 'Fix',
    kind: 'quickfix',
    producesEdit: true,
    request: ({ diagnostics, instruction }) =>
      diagnostics.length === 0
        ? `Fix the problem in the selected code.${instruction === undefined ? '' : ` ${instruction}`}`
        : `Fix this problem with the smallest correct change:\n${diagnostics.map(describeDiagnostic).join('\n')}`,
  },
  {
    id: BuiltinActions.explain,
    title: 'Explain',
    kind: ActionKinds.explain,
    kindAliases: [ActionKinds.explainAlias],
    producesEdit: false,
    request: () => 'Explain what the selected code does, how, and anything surprising about it. Do not propose edits.',
  },
  {
    id: BuiltinActions.rewrite,
    title: 'Rewrite…',
    kind: 'refactor.rewrite',
    producesEdit: true,
    request: ({ instruction }) => `Rewrite the selected code: ${instruction ?? defaultRewriteInstruction}`,
  },
  {
    id: BuiltinActions.document,
    title: 'Add documentation',
    kind: 'refactor.rewrite',
    producesEdit: true,
    request: () =>
      "Add documentation comments to the selected code in the language's usual style (docstrings, JSDoc, …). Change no code.",
  },
  {
    id: BuiltinActions.tests,
    title: 'Write tests',
    kind: 'refactor.rewrite',
    producesEdit: true,
    request: ({ instruction, canCreateFiles }) =>
      `Write unit tests for the selected code, in the framework the file already uses if any, ${
        canCreateFiles === true
          ? "in a new test file named and placed as the project's tests are (e.g. cart.test.ts beside cart.ts, or tests/test_cart.py), created with propose_edits' files; if the project keeps tests in the same file, insert them after the selected code instead."
          : 'and insert them after the selected code.'
      }${instruction === undefined ? '' : ` ${instruction}`}`,
  },
];

function fromUserAction(action: UserAction): ActionDefinition {
  return {
    id: action.id,
    title: action.title,
    kind: action.kind ?? 'refactor.rewrite',
    producesEdit: true,
    request: ({ instruction }) => (instruction === undefined ? action.prompt : `${action.prompt}\n${instruction}`),
  };
}

export function actionCatalog(userActions: readonly UserAction[]): ActionDefinition[] {
  const builtinIds = new Set(builtins.map((action) => action.id));
  return [...builtins, ...userActions.filter((action) => !builtinIds.has(action.id)).map(fromUserAction)];
}

export function findAction(userActions: readonly UserAction[], id: string): ActionDefinition | undefined {
  return actionCatalog(userActions).find((action) => action.id === id);
}

/** The menu title for one action; a Fix names its diagnostic. */
export function actionTitle(action: ActionDefinition, diagnostic?: Diagnostic): string {
  if (action.id === BuiltinActions.fix && diagnostic !== undefined) {
    const message = typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
    const firstLine = message.split('\n')[0] ?? '';
    return `${titlePrefix}Fix: ${firstLine.length > 80 ? `${firstLine.slice(0, 80)}…` : firstLine}`;
  }
  return `${titlePrefix}${action.title}`;
}
