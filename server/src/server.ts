/**
 * The composition root: builds every part once (lsp/services.ts) and
 * registers every handler in one list (lsp/handlers.ts). Handlers only route;
 * the translation lives in features/, the work in the domain modules.
 */
import type { DocumentStore } from './documents/document-store.js';
import type { DocumentSync } from './features/document-sync.js';
import { registerHandlers } from './lsp/handlers.js';
import { buildServices, type ServerOptions } from './lsp/services.js';

export type { ServerOptions } from './lsp/services.js';

/** What the composition root hands back: the parts the proxy router shares with the server. */
export interface ServerParts {
  /** The one copy of every open document. */
  documents: DocumentStore;
  /** Applies sync notifications to it, for the proxy router, which sees them first. */
  sync: DocumentSync;
}

export function createServer(options: ServerOptions): ServerParts {
  const services = buildServices(options);
  registerHandlers(services);
  return { documents: services.documents, sync: services.sync };
}
