/**
 * Keeps shadow documents out of the wrapped server's answers. While a shadow
 * is open the server counts it as a file of the project: a reference from it,
 * a symbol in it, an edit to it in a rename. Neither the editor nor the agent
 * may see one (the editor would open or even create `a.efrit-check-3.ts`), so
 * the answers to requests that can name other documents than the one asked
 * about are cleaned of every entry that is about a shadow, whatever the
 * answer's shape: a location or symbol in a list, a document's entry in a
 * workspace edit, a call hierarchy item.
 */
import { isShadowUri } from './shadow-names.js';

/** Requests whose answers can name documents other than the one asked about. */
const namingDocuments = new Set([
  'textDocument/definition',
  'textDocument/declaration',
  'textDocument/typeDefinition',
  'textDocument/implementation',
  'textDocument/references',
  'textDocument/rename',
  'textDocument/prepareCallHierarchy',
  'callHierarchy/incomingCalls',
  'callHierarchy/outgoingCalls',
  'textDocument/prepareTypeHierarchy',
  'typeHierarchy/supertypes',
  'typeHierarchy/subtypes',
  'textDocument/codeAction',
  'codeAction/resolve',
  'workspace/symbol',
  'workspace/executeCommand',
  'workspace/willRenameFiles',
  'workspace/willCreateFiles',
  'workspace/willDeleteFiles',
  'workspace/applyEdit',
]);

/** Whether answers to (or, for workspace/applyEdit from the server, the params of) `method` are cleaned of shadows. */
export function mayNameShadows(method: string): boolean {
  return namingDocuments.has(method);
}

/** Deep enough for any LSP answer; past it a value is left as it is. */
const maxDepth = 64;

/**
 * `value` without anything about a shadow: list entries and object members
 * that are about one are left out (a whole answer that is, becomes null).
 * Unchanged parts are kept as they are, not copied.
 */
export function withoutShadows(value: unknown): unknown {
  if (aboutShadow(value)) return null;
  return scrub(value, 0);
}

function scrub(value: unknown, depth: number): unknown {
  // Stryker disable next-line ConditionalExpression: equivalent, a string or number has no entry about a shadow and comes back as it is
  if (typeof value !== 'object' || value === null || depth > maxDepth) return value;
  // A copy is made only from the first entry that changes: an answer without shadows (the usual one) allocates nothing.
  if (Array.isArray(value)) {
    let kept: unknown[] | undefined;
    for (const [index, item] of value.entries()) {
      const dropped = aboutShadow(item);
      const cleaned = dropped ? undefined : scrub(item, depth + 1);
      if (kept === undefined && (dropped || cleaned !== item)) kept = value.slice(0, index);
      if (kept !== undefined && !dropped) kept.push(cleaned);
    }
    return kept ?? value;
  }
  const entries = Object.entries(value);
  let kept: Record<string, unknown> | undefined;
  for (const [index, [key, member]] of entries.entries()) {
    // A workspace edit's `changes` are keyed by URI.
    const dropped = isShadowUri(key) || aboutShadow(member);
    // Stryker disable next-line ArithmeticOperator: equivalent for what arrives, parsed JSON, which is finite: the bound only caps the work
    const cleaned = dropped ? undefined : scrub(member, depth + 1);
    if (kept === undefined && (dropped || cleaned !== member)) kept = Object.fromEntries(entries.slice(0, index));
    if (kept !== undefined && !dropped) kept[key] = cleaned;
  }
  return kept ?? value;
}

/** A location, symbol, document edit, file operation or call hierarchy entry whose document is a shadow. */
function aboutShadow(value: unknown): boolean {
  // Stryker disable next-line ConditionalExpression: equivalent, a string or number has none of the fields looked at below
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entry = value as Record<string, unknown>;
  const named = (field: unknown) => typeof field === 'string' && isShadowUri(field);
  const nested = (field: unknown) => typeof field === 'object' && field !== null && named((field as Record<string, unknown>)['uri']);
  return named(entry['uri']) || named(entry['targetUri']) || named(entry['oldUri']) || named(entry['newUri']) || nested(entry['location']) || nested(entry['textDocument']) || nested(entry['from']) || nested(entry['to']);
}
