/**
 * The connection to the editor over the transport the command line names
 * (--stdio, --node-ipc, --socket=PORT, --pipe=NAME), chosen as
 * vscode-languageserver chooses it, but with the writer built here: every
 * message the server sends (results, errors, notifications, its own requests,
 * log and progress messages) leaves through `RedactingMessageWriter`, the one
 * door a secret would have to pass.
 */
import {
  createConnection,
  createServerPipeTransport,
  createServerSocketTransport,
  IPCMessageReader,
  IPCMessageWriter,
  ProposedFeatures,
  StreamMessageWriter,
  type Connection,
  type MessageReader,
  type MessageWriter,
} from 'vscode-languageserver/node';
import { RedactingMessageWriter, type SecretRedactor } from '../common/redaction.js';

/** The transport of the first transport argument, read as vscode-languageserver reads it. */
function transport(args: readonly string[]): [MessageReader, MessageWriter] {
  for (let at = 0; at < args.length; at++) {
    const arg = args[at] as string;
    const [name, value = args[at + 1]] = arg.includes('=') ? arg.split('=', 2) : [arg];
    if (name === '--node-ipc') return [new IPCMessageReader(process), new IPCMessageWriter(process)];
    if (name === '--socket' && value !== undefined) return createServerSocketTransport(Number.parseInt(value, 10));
    if (name === '--pipe' && value !== undefined) return createServerPipeTransport(value);
    if (name === '--stdio') break;
  }
  // The library takes stdin as a stream, as it does for its own --stdio: it then also ends the process when stdin
  // ends (exit code 0 after `shutdown`, else 1). It accepts a stream beside a writer; only its typings do not say so.
  return [process.stdin as unknown as MessageReader, new StreamMessageWriter(process.stdout)];
}

/** The server's connection, every outgoing message redacted. */
export function redactedConnection(args: readonly string[], redactor: SecretRedactor): Connection {
  const [reader, writer] = transport(args);
  return createConnection(ProposedFeatures.all, reader, new RedactingMessageWriter(writer, redactor));
}
