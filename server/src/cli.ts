#!/usr/bin/env node
/** The entry point: argv → connection → createServer. Nothing else lives here. */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { ServerLogger } from './logger.js';
import { createServer } from './server.js';
import { packageVersion } from './version.js';

const usage = `efrit-lsp — an AI coding assistant as a language server

Usage:
  efrit-lsp --stdio            talk LSP over stdin/stdout (what editors use)
  efrit-lsp --socket=PORT      talk LSP over a TCP socket on PORT
  efrit-lsp --node-ipc         talk LSP over Node IPC (VS Code)
  efrit-lsp --version | --help

Environment:
  ANTHROPIC_API_KEY   API key (or the efrit.apiKey setting)
  ANTHROPIC_BASE_URL  API endpoint (or the efrit.baseURL setting)
  EFRIT_LOG_FILE      also append the log to this file
`;

const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write(`${packageVersion()}\n`);
} else if (args.includes('--help') || args.includes('-h') || !args.some((arg) => /^--(stdio|node-ipc|socket|pipe)/.test(arg))) {
  (args.length === 0 || args.includes('--help') || args.includes('-h') ? process.stdout : process.stderr).write(usage);
  if (!(args.includes('--help') || args.includes('-h'))) process.exitCode = 1;
} else {
  const logger = new ServerLogger({ file: process.env['EFRIT_LOG_FILE'] });
  // A bug in one handler must be logged and survived, not take the editor's assistant down.
  process.on('uncaughtException', (error) => logger.error('Uncaught exception', error));
  process.on('unhandledRejection', (reason) => logger.error('Unhandled rejection', reason));
  const connection = createConnection(ProposedFeatures.all);
  createServer({ connection, logger, version: packageVersion() });
  connection.listen();
}
