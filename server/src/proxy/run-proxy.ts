/**
 * `efrit-lsp --stdio --wrap -- <command> [args…]`: the editor's stdio, the
 * wrapped server as a child, and efrit-lsp's own server in-process on an
 * in-memory link, joined by the router. The server itself is the same one
 * `--stdio` runs; only its documents are shared with the router, which keeps
 * them in sync (see router.ts).
 */
import { createConnection, ProposedFeatures, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import type { ServerLogger } from '../common/logger.js';
import { RedactingMessageWriter } from '../common/redaction.js';
import type { OfflineEndpoint } from '../offline/offline-mode.js';
import { createServer } from '../server.js';
import { spawnWrappedServer } from './child.js';
import { memoryLink } from './memory-transport.js';
import { ProxyRouter } from './router.js';
import { WrappedServerLink } from './wrapped-server-link.js';

export function runProxy(command: string, args: readonly string[], logger: ServerLogger, version: string, offline?: OfflineEndpoint): void {
  // Its stderr reaches the editor's log too, so it passes the same redactor as everything efrit-lsp writes.
  const spawnOptions = { redact: (text: string) => logger.redactor.redact(text) };
  let child = spawnWrappedServer(command, args, spawnOptions);
  // Whatever ends this process (exit, the editor's death, a watchdog in the server) must not leave the child behind.
  process.on('exit', () => child.killNow());
  const [routerSide, serverSide] = memoryLink();
  // Everything efrit-lsp itself says leaves redacted; the wrapped server's messages pass as it sent them.
  const connection = createConnection(ProposedFeatures.all, serverSide.reader, new RedactingMessageWriter(serverSide.writer, logger.redactor));
  // efrit-lsp's own line to the wrapped server: the agent's semantic tools and its checks go through it, never past the editor.
  const link = new WrappedServerLink();
  const { documents, sync } = createServer({ connection, logger, version, offline, intelligence: link });
  connection.listen();
  new ProxyRouter({
    editor: { reader: new StreamMessageReader(process.stdin), writer: new StreamMessageWriter(process.stdout) },
    efrit: routerSide,
    documents: { documents, sync },
    child,
    link,
    restartChild: () => {
      child = spawnWrappedServer(command, args, spawnOptions);
      logger.info(`proxy mode: restarted ${child.label} (pid ${child.pid ?? 'unknown'})`);
      return child;
    },
    exit: (code) => process.exit(code),
    log: (message) => logger.warn(message),
  });
  logger.info(`proxy mode: wrapping ${child.label} (pid ${child.pid ?? 'unknown'})`);
}
