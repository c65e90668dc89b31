#!/usr/bin/env node
/** The entry point: argv → connection → createServer. Nothing else lives here. */
import { routeConsoleTo, ServerLogger } from './common/logger.js';
import { runProxy } from './proxy/run-proxy.js';
import { createServer } from './server.js';
import { redactedConnection } from './lsp/transport.js';
import { packageVersion } from './common/version.js';
import { offlineRequested, type OfflineEndpoint } from './offline/offline-mode.js';

const usage = `efrit-lsp — an AI coding assistant as a language server

Usage:
  efrit-lsp --stdio            talk LSP over stdin/stdout (what editors use)
  efrit-lsp --socket=PORT      talk LSP over a TCP socket on PORT
  efrit-lsp --node-ipc         talk LSP over Node IPC (VS Code)
  efrit-lsp --stdio --wrap -- COMMAND [ARGS…]
                               run the language server COMMAND behind efrit-lsp
                               (one server for editors that allow one, e.g. eglot)
  efrit-lsp --stdio --offline  answer from the demo model built in (no key, no
                               network): plausible edits to try the editor side
  efrit-lsp --version | --help

Environment:
  ANTHROPIC_API_KEY   API key (or the efrit.apiKey setting)
  ANTHROPIC_BASE_URL  API endpoint (or the efrit.baseURL setting)
  EFRIT_OFFLINE=1     the same as --offline
  EFRIT_LOG_FILE      also append the log to this file
`;

const argv = process.argv.slice(2);
// Everything after `--wrap` (and an optional `--`) is the wrapped server's command line, not ours.
const wrapAt = argv.indexOf('--wrap');
const args = wrapAt < 0 ? argv : argv.slice(0, wrapAt);
const wrapped = wrapAt < 0 ? undefined : argv.slice(argv[wrapAt + 1] === '--' ? wrapAt + 2 : wrapAt + 1);
if (args.includes('--version') || args.includes('-v')) {
  // Not a language server run: no JSON-RPC on stdout yet, so the version may go there.
  process.stdout.write(`${packageVersion()}\n`);
} else if (args.includes('--help') || args.includes('-h') || !args.some((arg) => /^--(stdio|node-ipc|socket|pipe)/.test(arg))) {
  (args.length === 0 || args.includes('--help') || args.includes('-h') ? process.stdout : process.stderr).write(usage);
  if (!(args.includes('--help') || args.includes('-h'))) process.exitCode = 1;
} else {
  const logger = new ServerLogger({ file: process.env['EFRIT_LOG_FILE'] });
  // stdout carries JSON-RPC: a dependency's stray console call must become a log line, not corrupt it.
  routeConsoleTo(logger);
  // A bug in one handler must be logged and survived, not take the editor's assistant down.
  process.on('uncaughtException', (error) => logger.error('Uncaught exception', error));
  process.on('unhandledRejection', (reason) => logger.error('Unhandled rejection', reason));
  const start = (offline: OfflineEndpoint | undefined): void => {
    if (wrapped !== undefined) {
      const [command, ...commandArgs] = wrapped;
      if (command === undefined || !args.includes('--stdio')) {
        process.stderr.write('efrit-lsp: --wrap needs --stdio and a command: efrit-lsp --stdio --wrap -- pylsp\n');
        process.exit(1);
      }
      runProxy(command, commandArgs, logger, packageVersion(), offline);
    } else {
      const connection = redactedConnection(args, logger.redactor);
      createServer({ connection, logger, version: packageVersion(), offline });
      connection.listen();
    }
  };
  // Offline, the demo model listens first, so the server's very first model call finds it; the editor's messages wait in stdin meanwhile.
  // Loaded only then: every other start-up skips its code.
  if (offlineRequested(args, process.env)) {
    import('./offline/demo-api.js').then(({ startOfflineDemoApi }) => startOfflineDemoApi()).then(start, (error: unknown) => {
      process.stderr.write(`efrit-lsp: the offline demo model could not start: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
  } else start(undefined);
}
