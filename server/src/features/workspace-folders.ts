/**
 * The workspace folders the agent may read, as the client names them: set by
 * `initialize` (`workspaceFolders`, else `rootUri`) and kept current by
 * `workspace/didChangeWorkspaceFolders`, so a folder the user removed is no
 * longer readable from the next tool call on.
 */
import { fileURLToPath } from 'node:url';
import type { InitializeParams } from 'vscode-languageserver/node';
import { isRecord } from '../common/json-shape.js';
import type { Logger } from '../common/logger.js';

export class WorkspaceFolders {
  /** Folder URIs in the client's order; only `file:` ones can be read. */
  private uris: string[] = [];

  constructor(private readonly logger: Logger) {}

  initialize(params: InitializeParams): void {
    const folders = params.workspaceFolders;
    if (Array.isArray(folders)) {
      this.uris = this.folderUris(folders, 'initialize: workspaceFolders');
    } else if (typeof params.rootUri === 'string') {
      this.uris = [params.rootUri];
    } else {
      this.uris = [];
    }
  }

  /** Applies `workspace/didChangeWorkspaceFolders`; a malformed one changes nothing and is logged. */
  change(params: unknown): void {
    const event = isRecord(params) ? params['event'] : undefined;
    if (!isRecord(event) || !Array.isArray(event['added']) || !Array.isArray(event['removed'])) {
      this.logger.warn('workspace/didChangeWorkspaceFolders without event: { added: [], removed: [] } was ignored; the workspace folders are unchanged.');
      return;
    }
    const removed = new Set(this.folderUris(event['removed'], 'workspace/didChangeWorkspaceFolders: removed'));
    const added = this.folderUris(event['added'], 'workspace/didChangeWorkspaceFolders: added');
    this.uris = [...new Set([...this.uris.filter((uri) => !removed.has(uri)), ...added])];
    this.logger.info(`workspace folders: ${this.uris.length === 0 ? 'none' : this.uris.join(', ')}`);
  }

  /** The folders as absolute file paths (non-file URIs have no path to read). */
  paths(): string[] {
    return this.uris.flatMap((uri) => {
      if (!uri.startsWith('file:')) return [];
      try {
        return [fileURLToPath(uri)];
      } catch {
        return [];
      }
    });
  }

  private folderUris(folders: unknown[], what: string): string[] {
    const uris: string[] = [];
    folders.forEach((folder, index) => {
      const uri = isRecord(folder) ? folder['uri'] : undefined;
      if (typeof uri === 'string' && uri !== '') uris.push(uri);
      else this.logger.warn(`${what}[${index}] has no uri string and was skipped.`);
    });
    return uris;
  }
}
