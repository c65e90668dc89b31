#!/usr/bin/env node
/**
 * The baseline for the sync benchmark: the least a vscode-languageserver
 * server does to keep documents in sync (`TextDocuments(TextDocument)`,
 * incremental sync) and nothing else. Whatever efrit-lsp costs beyond this is
 * efrit's own (the store's journal, its checks, its other parts loaded).
 *
 * It answers `bench/ping` with the document's version and length, so the
 * benchmark can check that every edit arrived, as it does for efrit-lsp.
 * Start it with `--stdio`, as efrit-lsp is started.
 */
import { createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';

export interface PingParams {
  uri?: string;
}

export interface PingResult {
  version: number | null;
  length: number | null;
}

// The same connection as efrit-lsp's cli.ts, so the comparison is of the servers, not of the transports.
const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

connection.onInitialize(() => ({
  capabilities: { textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental } },
  serverInfo: { name: 'efrit-bench-bare' },
}));

connection.onRequest('bench/ping', (params: PingParams | null): PingResult => {
  const document = params?.uri === undefined ? undefined : documents.get(params.uri);
  return { version: document?.version ?? null, length: document?.getText().length ?? null };
});

connection.onShutdown(() => undefined);

documents.listen(connection);
connection.listen();
