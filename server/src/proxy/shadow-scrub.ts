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
  if (typeof value !== 'object' || value === null || depth > maxDepth) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const kept: unknown[] = [];
    for (const item of value) {
      if (aboutShadow(item)) {
        changed = true;
        continue;
      }
      const cleaned = scrub(item, depth + 1);
      if (cleaned !== item) changed = true;
      kept.push(cleaned);
    }
    return changed ? kept : value;
  }
  let changed = false;
  const kept: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    // A workspace edit's `changes` are keyed by URI.
    if (isShadowUri(key) || aboutShadow(member)) {
      changed = true;
      continue;
    }
    const cleaned = scrub(member, depth + 1);
    if (cleaned !== member) changed = true;
    kept[key] = cleaned;
  }
  return changed ? kept : value;
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
