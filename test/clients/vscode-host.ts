/**
 * A stand-in for the extension host, just large enough to load the bundled
 * extension (clients/vscode/dist/extension.js) in Node and activate it: the
 * `vscode` module it requires is this stub, and vscode-languageclient inside
 * it starts the real shipped server over Node IPC. What the extension does
 * with VS Code (commands, output channels, the status bar item, messages,
 * input boxes, edits) is recorded for the test to read; every API the stub
 * does not model answers with an inert object, and is listed in `unmodelled`.
 *
 * It is not VS Code: it checks the extension's own glue and the client
 * library's start-up against the real server, nothing about rendering.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Listener = (event: unknown) => unknown;
type AnyFunction = (...args: unknown[]) => unknown;

/** An object whose every property, call and construction is inert: what an unmodelled API returns. */
function inert(path: string, unmodelled: Set<string>): unknown {
  const target = function inertFunction(): void {};
  return new Proxy(target, {
    get(_target, property) {
      if (property === 'then' || typeof property === 'symbol') return property === Symbol.iterator ? function* empty() {} : undefined;
      if (property === 'dispose') return () => undefined;
      unmodelled.add(`${path}.${property}`);
      return inert(`${path}.${property}`, unmodelled);
    },
    apply: () => inert(`${path}()`, unmodelled),
    construct: () => inert(`new ${path}`, unmodelled) as object,
  });
}

/** A modelled namespace; what it leaves out is inert. */
function namespace<T extends object>(path: string, modelled: T, unmodelled: Set<string>): T {
  return new Proxy(modelled, {
    get(target, property, receiver) {
      if (property in target || typeof property === 'symbol' || property === 'then') return Reflect.get(target, property, receiver) as unknown;
      unmodelled.add(`${path}.${property}`);
      return inert(`${path}.${property}`, unmodelled);
    },
  });
}

class Disposable {
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  constructor(private readonly onDispose: () => unknown) {}
  dispose(): void {
    this.onDispose();
  }
}

class EventEmitter {
  private readonly listeners = new Set<Listener>();
  readonly event = (listener: Listener): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(event: unknown): void {
    for (const listener of [...this.listeners]) listener(event);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

class CancellationTokenSource {
  private readonly emitter = new EventEmitter();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    if (this.token.isCancellationRequested) return;
    this.token.isCancellationRequested = true;
    this.emitter.fire(undefined);
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static parse(value: string): Uri {
    const url = new URL(value);
    return new Uri(url.protocol.replace(/:$/, ''), url.host, decodeURIComponent(url.pathname), url.search.replace(/^\?/, ''), url.hash.replace(/^#/, ''));
  }
  static file(path: string): Uri {
    return Uri.parse(pathToFileURL(path).href);
  }
  get fsPath(): string {
    return fileURLToPath(this.toString());
  }
  with(change: Partial<Pick<Uri, 'scheme' | 'authority' | 'path' | 'query' | 'fragment'>>): Uri {
    return new Uri(change.scheme ?? this.scheme, change.authority ?? this.authority, change.path ?? this.path, change.query ?? this.query, change.fragment ?? this.fragment);
  }
  toString(): string {
    if (this.scheme === 'file') return pathToFileURL(this.path).href;
    return `${this.scheme}:${this.authority === '' ? '' : `//${this.authority}`}${this.path}${this.query === '' ? '' : `?${this.query}`}`;
  }
  toJSON(): string {
    return this.toString();
  }
}

class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(start: Position | number, end: Position | number, endLine?: number, endCharacter?: number) {
    if (typeof start === 'number' && typeof end === 'number') {
      this.start = new Position(start, end);
      this.end = new Position(endLine ?? start, endCharacter ?? end);
    } else {
      this.start = start as Position;
      this.end = end as Position;
    }
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

class Selection extends Range {
  get active(): Position {
    return this.end;
  }
  get anchor(): Position {
    return this.start;
  }
}

class ThemeColor {
  constructor(readonly id: string) {}
}

class TextEdit {
  constructor(
    readonly range: Range,
    readonly newText: string,
  ) {}
}

/** Text edits per document, as the client converts a server's edit; what a test reads of an applied edit. */
export class WorkspaceEdit {
  private readonly byUri = new Map<string, { uri: Uri; edits: TextEdit[] }>();
  set(uri: Uri, edits: (TextEdit | [TextEdit, unknown])[]): void {
    this.byUri.set(uri.toString(), { uri, edits: edits.map((edit) => (Array.isArray(edit) ? edit[0] : edit)) });
  }
  replace(uri: Uri, range: Range, newText: string): void {
    const entry = this.byUri.get(uri.toString()) ?? { uri, edits: [] };
    entry.edits.push(new TextEdit(range, newText));
    this.byUri.set(uri.toString(), entry);
  }
  insert(uri: Uri, position: Position, newText: string): void {
    this.replace(uri, new Range(position, position), newText);
  }
  entries(): [Uri, TextEdit[]][] {
    return [...this.byUri.values()].map(({ uri, edits }) => [uri, edits]);
  }
  get size(): number {
    return this.byUri.size;
  }
}

/** A text document as VS Code hands it out; `text` is fixed (the stub never edits). */
export interface StubDocument {
  uri: Uri;
  fileName: string;
  languageId: string;
  version: number;
  isClosed: boolean;
  isDirty: boolean;
  isUntitled: boolean;
  lineCount: number;
  eol: number;
  getText(): string;
  lineAt(line: number): { range: Range; text: string };
}

export interface OutputChannelRecord {
  name: string;
  text: string;
  shown: number;
}

export interface StatusBarItemRecord {
  id: string;
  text: string;
  tooltip: unknown;
  command: unknown;
  backgroundColor: unknown;
  visible: boolean;
}

export interface VSCodeHost {
  /** The module the extension gets for `require('vscode')`. */
  module: Record<string, unknown>;
  commands: Map<string, AnyFunction>;
  outputChannels: OutputChannelRecord[];
  statusBarItems: StatusBarItemRecord[];
  messages: { level: 'info' | 'warning' | 'error'; text: string }[];
  /** What the next input boxes answer; undefined is Escape. */
  inputAnswers: (string | undefined)[];
  workspaceEdits: unknown[];
  /** The metadata each `workspace.applyEdit` was given, in the same order (VS Code saves a refactoring's files by it). */
  workspaceEditMetadata: unknown[];
  /** The `languages.register…Provider` calls the client made for the server's capabilities. */
  providers: string[];
  unmodelled: Set<string>;
  /** Whether the window has the focus (`window.state.focused`); the extension polls status only while it does. */
  focused: boolean;
  /** Sets a setting (`efrit.apiKey`) and fires `workspace.onDidChangeConfiguration` for it, as VS Code does after an edit. */
  changeSetting(dottedKey: string, value: unknown): void;
  /** Opens a document (fires onDidOpenTextDocument) and makes it the active editor with `selection`. */
  openEditor(path: string, languageId: string, text: string, selection?: { start: [number, number]; end: [number, number] }): StubDocument;
  context(extensionDir: string): Record<string, unknown>;
  /** Loads the bundled extension with this stub as its `vscode`. */
  load(bundle: string): { activate(context: unknown): Promise<void>; deactivate(): Promise<void> | undefined };
}

export function createVSCodeHost(settings: Record<string, unknown> = {}): VSCodeHost {
  const unmodelled = new Set<string>();
  const commands = new Map<string, AnyFunction>();
  const outputChannels: OutputChannelRecord[] = [];
  const statusBarItems: StatusBarItemRecord[] = [];
  const messages: VSCodeHost['messages'] = [];
  const inputAnswers: (string | undefined)[] = [];
  const workspaceEdits: unknown[] = [];
  const workspaceEditMetadata: unknown[] = [];
  const textDocuments: StubDocument[] = [];
  const onDidOpenTextDocument = new EventEmitter();
  const onDidChangeActiveTextEditor = new EventEmitter();
  const onDidChangeConfiguration = new EventEmitter();
  const windowState = { focused: true };
  let activeTextEditor: { document: StubDocument; selection: Selection } | undefined;

  const event = (): ((listener: Listener) => Disposable) => new EventEmitter().event;
  const show =
    (level: 'info' | 'warning' | 'error') =>
    (text: string): Promise<undefined> => {
      messages.push({ level, text });
      return Promise.resolve(undefined);
    };

  const configuration = (section: string | undefined) => {
    const lookup = (key: string): unknown => {
      const dotted = section === undefined || section === '' ? key : `${section}.${key}`;
      let at: unknown = settings;
      for (const part of dotted.split('.')) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[part] : undefined;
      return at;
    };
    return {
      get: (key: string, fallback?: unknown) => lookup(key) ?? fallback,
      has: (key: string) => lookup(key) !== undefined,
      inspect: () => undefined,
      update: () => Promise.resolve(),
    };
  };

  const vscode: Record<string, unknown> = {
    version: '1.91.0',
    Disposable,
    EventEmitter,
    CancellationTokenSource,
    CancellationError: class CancellationError extends Error {},
    Uri,
    Position,
    Range,
    Selection,
    ThemeColor,
    TextEdit,
    WorkspaceEdit,
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
    env: namespace('env', { appName: 'Visual Studio Code (test stub)', language: 'en', machineId: 'stub', sessionId: 'stub', uiKind: 1 }, unmodelled),
    commands: namespace(
      'commands',
      {
        registerCommand(id: string, callback: AnyFunction) {
          if (commands.has(id)) throw new Error(`command '${id}' already exists`);
          commands.set(id, callback);
          return new Disposable(() => commands.delete(id));
        },
        executeCommand(id: string, ...args: unknown[]) {
          return Promise.resolve(commands.get(id)?.(...args));
        },
        getCommands: () => Promise.resolve([...commands.keys()]),
      },
      unmodelled,
    ),
    window: namespace(
      'window',
      {
        get activeTextEditor() {
          return activeTextEditor;
        },
        get visibleTextEditors() {
          return activeTextEditor === undefined ? [] : [activeTextEditor];
        },
        state: windowState,
        tabGroups: { all: [], onDidChangeTabs: event(), onDidChangeTabGroups: event() },
        onDidChangeActiveTextEditor: onDidChangeActiveTextEditor.event,
        onDidChangeVisibleTextEditors: event(),
        createOutputChannel(name: string) {
          const record: OutputChannelRecord = { name, text: '', shown: 0 };
          outputChannels.push(record);
          const log = (line: string): void => void (record.text += `${line}\n`);
          return {
            name,
            logLevel: 3,
            onDidChangeLogLevel: event(),
            append: (text: string) => void (record.text += text),
            appendLine: log,
            replace: (text: string) => void (record.text = text),
            clear: () => void (record.text = ''),
            show: () => void record.shown++,
            hide: () => undefined,
            dispose: () => undefined,
            trace: log,
            debug: log,
            info: log,
            warn: log,
            error: (line: unknown) => log(String(line)),
          };
        },
        createStatusBarItem(id: string) {
          const item: StatusBarItemRecord = { id, text: '', tooltip: undefined, command: undefined, backgroundColor: undefined, visible: false };
          statusBarItems.push(item);
          return Object.assign(item, { show: () => void (item.visible = true), hide: () => void (item.visible = false), dispose: () => undefined });
        },
        showInformationMessage: show('info'),
        showWarningMessage: show('warning'),
        showErrorMessage: show('error'),
        showInputBox: () => Promise.resolve(inputAnswers.shift()),
        withProgress(_options: unknown, task: (progress: unknown, token: unknown) => unknown) {
          return Promise.resolve(task({ report: () => undefined }, new CancellationTokenSource().token));
        },
      },
      unmodelled,
    ),
    workspace: namespace(
      'workspace',
      {
        textDocuments,
        notebookDocuments: [],
        workspaceFolders: undefined,
        getConfiguration: configuration,
        getWorkspaceFolder: () => undefined,
        onDidOpenTextDocument: onDidOpenTextDocument.event,
        onDidChangeTextDocument: event(),
        onDidCloseTextDocument: event(),
        onDidSaveTextDocument: event(),
        onWillSaveTextDocument: event(),
        onDidChangeConfiguration: onDidChangeConfiguration.event,
        onDidChangeWorkspaceFolders: event(),
        applyEdit(edit: unknown, metadata?: unknown) {
          workspaceEdits.push(edit);
          workspaceEditMetadata.push(metadata);
          return Promise.resolve(true);
        },
      },
      unmodelled,
    ),
    languages: namespace(
      'languages',
      {
        match(selector: unknown, document: StubDocument) {
          const filters = (Array.isArray(selector) ? selector : [selector]) as { scheme?: string; language?: string }[];
          return filters.some((f) => (f.scheme === undefined || f.scheme === document.uri.scheme) && (f.language === undefined || f.language === document.languageId)) ? 10 : 0;
        },
        createDiagnosticCollection: () => ({ set: () => undefined, delete: () => undefined, clear: () => undefined, forEach: () => undefined, dispose: () => undefined }),
      },
      unmodelled,
    ),
  };
  // Every `languages.register…Provider` the client calls for the server's capabilities.
  const languages = vscode['languages'] as Record<string, unknown>;
  const providers: string[] = [];
  const module = new Proxy(vscode, {
    get(target, property, receiver) {
      if (property in target || typeof property === 'symbol') return Reflect.get(target, property, receiver) as unknown;
      unmodelled.add(String(property));
      return inert(String(property), unmodelled);
    },
  });
  const languagesProxy = new Proxy(languages, {
    get(target, property, receiver) {
      if (typeof property === 'string' && property.startsWith('register')) {
        return () => {
          providers.push(property);
          return new Disposable(() => undefined);
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  vscode['languages'] = languagesProxy;

  return {
    module,
    commands,
    outputChannels,
    statusBarItems,
    messages,
    inputAnswers,
    workspaceEdits,
    workspaceEditMetadata,
    providers,
    unmodelled,
    get focused() {
      return windowState.focused;
    },
    set focused(focused: boolean) {
      windowState.focused = focused;
    },
    changeSetting(dottedKey, value) {
      const parts = dottedKey.split('.');
      let at = settings;
      for (const part of parts.slice(0, -1)) {
        const next = at[part];
        at = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : (at[part] = {});
      }
      at[parts.at(-1) ?? dottedKey] = value;
      onDidChangeConfiguration.fire({ affectsConfiguration: (section: string) => dottedKey === section || dottedKey.startsWith(`${section}.`) });
    },
    openEditor(path, languageId, text, selection) {
      const lines = text.split('\n');
      const document: StubDocument = {
        uri: Uri.file(path),
        fileName: path,
        languageId,
        version: 1,
        isClosed: false,
        isDirty: false,
        isUntitled: false,
        lineCount: lines.length,
        eol: 1,
        getText: () => text,
        lineAt: (line) => ({ range: new Range(line, 0, line, (lines[line] ?? '').length), text: lines[line] ?? '' }),
      };
      textDocuments.push(document);
      onDidOpenTextDocument.fire(document);
      const [startLine, startCharacter] = selection?.start ?? [0, 0];
      const [endLine, endCharacter] = selection?.end ?? [startLine, startCharacter];
      activeTextEditor = { document, selection: new Selection(new Position(startLine, startCharacter), new Position(endLine, endCharacter)) };
      onDidChangeActiveTextEditor.fire(activeTextEditor);
      return document;
    },
    context(extensionDir) {
      return namespace(
        'context',
        {
          subscriptions: [] as { dispose(): unknown }[],
          extensionPath: extensionDir,
          extensionUri: Uri.file(extensionDir),
          asAbsolutePath: (relative: string) => join(extensionDir, relative),
          extensionMode: 1,
        },
        unmodelled,
      );
    },
    load(bundle) {
      const require = createRequire(import.meta.url);
      const loader = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
      const original = loader._load;
      loader._load = function load(this: unknown, request: string, ...rest: unknown[]): unknown {
        return request === 'vscode' ? module : original.call(this, request, ...rest);
      };
      try {
        // A fresh copy per host: a cached one would still talk to the host that loaded it first.
        delete require.cache[require.resolve(bundle)];
        return require(bundle) as ReturnType<VSCodeHost['load']>;
      } finally {
        loader._load = original;
      }
    },
  };
}
