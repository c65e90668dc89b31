/**
 * The custom part of the wire contract (docs/protocol.md), declared once.
 * The server registers these names and the VS Code client imports them, so a
 * renamed method cannot silently break a client. Plain types only: this file
 * must stay importable without pulling in the server.
 */
import type { Diagnostic, Range, WorkspaceEdit } from 'vscode-languageserver-types';

export const Methods = {
  chat: 'efrit/chat',
  do: 'efrit/do',
  status: 'efrit/status',
  cancel: 'efrit/cancel',
  endSession: 'efrit/endSession',
  /** The server's copy of a document, so clients and tests can check sync. */
  documentText: 'efrit/documentText',
  /** server → client notification */
  stream: 'efrit/stream',
} as const;

export const Commands = {
  runAction: 'efrit.runAction',
  applyJob: 'efrit.applyJob',
  /** The user rejected a do job's change in the client's review: nothing is applied, and the model hears it. */
  rejectJob: 'efrit.rejectJob',
  chat: 'efrit.chat',
  do: 'efrit.do',
  cancel: 'efrit.cancel',
  status: 'efrit.status',
  /** Carried by every inline suggestion as its `command`; clients run it after inserting the suggestion (LSP 3.18), which counts it accepted. */
  completionAccepted: 'efrit.completionAccepted',
} as const;

export const allCommands: readonly string[] = Object.values(Commands);

/** Built-in action ids; user actions from settings use their own ids. */
export const BuiltinActions = {
  fix: 'fix',
  explain: 'explain',
  rewrite: 'rewrite',
  document: 'document',
  tests: 'tests',
} as const;

/**
 * Code action kinds of built-in actions that LSP has no constant for.
 * Explain changes no code, and LSP has no kind for reading code; VS Code shows
 * only `quickfix`, `refactor.extract|inline|rewrite|move`, `surround` and
 * `source` under headings of their own (everything else lands in "More
 * Actions…"), and an explanation of the selection belongs beside Rewrite,
 * Document and Write tests, which work on the selection too.
 */
export const ActionKinds = {
  explain: 'refactor.rewrite.explain',
  /** Still declared and honoured in `context.only`, so clients and keybindings that ask for it keep getting Explain. */
  explainAlias: 'refactor.explain',
} as const;

export interface TextDocumentRef {
  uri: string;
}

/** LSP's `ProgressToken`. */
export type ProgressToken = string | number;

/**
 * How a client names the stream of the job its request starts, before it
 * knows the job id (which only comes with the response). Accepted by every
 * request that starts or waits for a job; each given field is echoed on every
 * `efrit/stream` note of that job, the first one included, and a
 * `workDoneToken` also carries the job's `$/progress` (the server then creates
 * no token of its own). Both optional: without them nothing changes.
 */
export interface StreamIdentity {
  /** Chosen by the client, unique among its requests in flight; at most `maxStreamIdLength` characters. */
  streamId?: string;
  /** LSP `WorkDoneProgressParams.workDoneToken`. */
  workDoneToken?: ProgressToken;
}

/** Bound on a client-chosen `streamId` or string `workDoneToken`. */
export const maxStreamIdLength = 256;

/** JSON-RPC error codes the server answers with (LSP 3.17 names). */
export const ResponseErrorCodes = {
  invalidParams: -32602,
  internalError: -32603,
  /** Only for a request the client itself cancelled with `$/cancelRequest`. */
  requestCancelled: -32800,
  contentModified: -32801,
  /** The server ended the request's job (see `ServerCancelReason` in `data.reason`). */
  serverCancelled: -32802,
  requestFailed: -32803,
} as const;

/**
 * `data.reason` of a `ServerCancelled` (-32802) answer: why the server ended
 * the job the request was waiting for.
 */
export type ServerCancelReason =
  /** efrit/cancel or efrit.cancel named it (or another request waiting for the same job was cancelled with `$/cancelRequest`). */
  | 'cancelled'
  /** A newer request for the same thing replaced it (a second Explain of the same range). */
  | 'superseded'
  /** efrit/endSession ended its session. */
  | 'sessionEnded'
  /** The client sent `shutdown`. */
  | 'shuttingDown'
  /** Its document was closed (background jobs only). */
  | 'documentClosed'
  /** Its document changed (prefetched fixes for an older version). */
  | 'documentChanged'
  /** The queue was full and more urgent work came (background jobs only). */
  | 'dropped';

export interface RunActionArgs extends StreamIdentity {
  actionId: string;
  textDocument: TextDocumentRef;
  range: Range;
  instruction?: string;
  diagnostics?: Diagnostic[];
}

export interface RunActionResult {
  jobId: string;
  applied: boolean;
  text?: string;
}

export interface ApplyJobArgs extends StreamIdentity {
  jobId: string;
  /** For a do job: URIs of files the user rejected in review; the rest of the change is applied. */
  exclude?: string[];
}

export interface RejectJobArgs {
  jobId: string;
}

/** One file of a do job's change, for a client's review list. */
export interface FileChange {
  uri: string;
  /** Relative to its workspace folder. */
  path: string;
  kind: 'edit' | 'create' | 'rename' | 'delete';
  /** For a rename: where the file goes. */
  newUri?: string;
  newPath?: string;
}

export interface ChatParams extends StreamIdentity {
  sessionId?: string;
  message: string;
  textDocument?: TextDocumentRef;
  range?: Range;
}

export interface UsageSummary {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  requestBytes: number;
  bytesSavedByDeltas: number;
}

/** Money spent on model calls, from the price table (`prices` setting and the defaults). */
export interface SpendSummary {
  /** USD for the calls whose model has a price. */
  usd: number;
  requests: number;
  /** Calls to a model with no known price: counted in tokens only, never priced as 0. */
  unpricedRequests: number;
  /** Per recent session, most recently used first (at most 256). Absent in a per-session entry. */
  sessions?: Array<{ sessionId: string; usd: number; requests: number; unpricedRequests: number }>;
}

/** One provider's share of the usage and spend (`efrit/status.providers`). */
export interface ProviderUsageSummary {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** USD for the calls whose model has a price. */
  usd: number;
  /** Calls to a model with no known price: counted in tokens only. */
  unpricedRequests: number;
}

export interface ChatResult {
  sessionId: string;
  jobId: string;
  reply: string;
  usage: UsageSummary;
}

export interface DoParams extends StreamIdentity {
  instruction: string;
  textDocument: TextDocumentRef;
  range?: Range;
  sessionId?: string;
  apply?: boolean;
}

export interface DoResult {
  sessionId: string;
  jobId: string;
  summary: string;
  /** Model steps the agent took (an addition to the contract; clients may ignore it). */
  steps: number;
  edit: WorkspaceEdit | null;
  applied: boolean;
  /** The files the change touches, in the order they are applied (an addition: empty when there is no edit). */
  files: FileChange[];
  /**
   * The checks run on the agent's proposals, in the order they ran (an addition: empty when none ran).
   * At most `maxDoChecks`; when there were more, the earliest runs that a later run of the same check
   * superseded are left out, never the last run of a check.
   */
  checks: DoCheck[];
}

/** Most entries in `DoResult.checks`. */
export const maxDoChecks = 20;
/** Most new errors listed in one `DoCheck` (`newErrorCount` counts them all). */
export const maxDoCheckErrors = 10;

/**
 * One check of an efrit/do job. `kind` 'languageServer': the wrapped language server's view of the
 * changed files (proxy mode, `agent.checkProposals`); 'command': one of `agent.commands`.
 */
export interface DoCheck {
  kind: 'languageServer' | 'command';
  /** The command check's name in `agent.commands`; absent for the language server. */
  name?: string;
  /** The agent's step (1-based) whose proposal, or workspace, it checked. */
  step: number;
  /** 'proposal': the workspace as that step's proposal would leave it; 'workspace': as it was (a command asked for with no proposal). */
  on: 'proposal' | 'workspace';
  /** 'failed' for the language server: the change brings new errors; 'notRun': see `reason`. */
  outcome: 'passed' | 'failed' | 'timedOut' | 'notRun';
  /** `outcome` is 'passed'. */
  passed: boolean;
  /** The last run of this check in the job: what it says now. A latest run that did not pass is what still fails. */
  latest: boolean;
  /** It checked exactly the change in `edit` (false when no change was handed over, or it changed after this check). */
  ofFinalChange: boolean;
  /** Language server: the files checked, relative to the workspace folder. */
  files?: string[];
  /** Language server: the errors the change brings, at most `maxDoCheckErrors` of them. */
  newErrors?: DoCheckError[];
  /** Language server: how many new errors there are in all. */
  newErrorCount?: number;
  /** Language server: how many errors the change removes. */
  fixedErrors?: number;
  /** Command: its exit code; null when it was killed (timed out, or by a signal). */
  exitCode?: number | null;
  /** Command: its output, lines that look like failures first, at most 1,500 characters, secrets removed. */
  output?: string;
  /** Why the check did not run (outcome 'notRun'), for people. */
  reason?: string;
}

export interface DoCheckError {
  /** Relative to the workspace folder. */
  path: string;
  /** 1-based, in the text as the change would leave it. */
  line: number;
  message: string;
  source?: string;
  code?: string | number;
}

export interface CancelParams {
  jobId?: string;
  sessionId?: string;
}

export interface CancelResult {
  cancelled: number;
}

export interface DocumentTextResult {
  uri: string;
  version: number;
  text: string;
}

export interface EndSessionParams {
  sessionId: string;
}

export type Priority = 'interactive' | 'completion' | 'background';

/** Inline completion's counters (`efrit/status.completion`). */
export interface CompletionStats {
  requests: number;
  modelCalls: number;
  cacheHits: number;
  typedAhead: number;
  /** Ended by a newer request for the same document or by the client's cancellation. */
  cancelled: number;
  /** Refused by the per-minute cap. */
  capped: number;
  /** Automatic triggers in a comment or a string, or where the call for the same context was refused. */
  skipped: number;
  /** Answers computed for a version the document has since left. */
  stale: number;
  errors: number;
  /** Answered from a model call already running when the request came, with no call of their own. */
  joined: number;
  /** Requests answered with a suggestion. */
  shown: number;
  /** Suggestions the client reports it inserted. */
  accepted: number;
}

export interface StatusResult {
  version: string;
  model: string;
  queue: {
    running: number;
    queued: number;
    /** In force now; lowered for a while after 429/529. */
    concurrency: number;
    configuredConcurrency: number;
    byPriority: Record<Priority, { running: number; queued: number }>;
    backoff: { active: boolean; remainingMs: number; reason: string | null };
    retries: number;
    dropped: number;
    preempted: number;
    superseded: number;
  };
  prefetch: { made: number; used: number; wasted: number };
  /** Inline completion: requests, model calls, and how many were served without one. */
  completion: CompletionStats;

  sessions: { open: number };
  documents: { open: number };
  cache: { entries: number; bytes: number; hits: number; misses: number };
  usage: UsageSummary;
  /** Money spent, in all and per session (an addition: servers before it had none). */
  spend: SpendSummary;
  /** Usage and spend per provider that answered (`anthropic`, `openai`), for the calls whose model is known (an addition). */
  providers: Record<string, ProviderUsageSummary>;
  apiKeyConfigured: boolean;
  /** True when the built-in offline demo model answers (`efrit-lsp --stdio --offline` or EFRIT_OFFLINE=1), not a real one. */
  offline: boolean;
  /** The server process's memory, in bytes: resident, and V8's heap (committed and used) and memory outside it. */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /**
   * What start-up made of V8's code cache (see server/src/launcher.ts): `used`;
   * `missing` or `rejected` (a new one is written a few seconds after start);
   * `off` (EFRIT_CODE_CACHE=off); `notLaunched` (started without the bin's launcher).
   */
  codeCache: CodeCacheState;
}

export type CodeCacheState = 'used' | 'missing' | 'rejected' | 'off' | 'notLaunched';

export type StreamKind = 'text' | 'status' | 'tool' | 'done' | 'error';

export interface StreamParams {
  jobId: string;
  sessionId?: string;
  /** The `streamId` of the request this note answers, when it gave one. */
  streamId?: string;
  /** The `workDoneToken` of the request this note answers, when it gave one. */
  workDoneToken?: ProgressToken;
  /**
   * What the job is, for a heading over notes no request of the client named
   * (an action picked from a menu): its title and, for a job on a document,
   * that document's path in the workspace, e.g. `Efrit: Explain · src/calc.ts`.
   */
  title?: string;
  kind: StreamKind;
  text: string;
}

/** Carried in `ResponseError.data.reason` so clients can react without parsing messages. */
export type ErrorReason =
  | 'noApiKey'
  | 'busy'
  | 'unauthorized'
  | 'forbidden'
  | 'rateLimited'
  | 'overloaded'
  | 'apiError'
  | 'badRequest'
  | 'network'
  /** A proxy from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY refused the request (407, 403 on CONNECT), could not be reached, or is not a usable URL; the message names it (host:port) and its variable. */
  | 'proxy'
  | 'timeout'
  | 'stalled'
  | ServerCancelReason
  | 'incomplete'
  /** The answer grew past what `maxTokens` allows (a gateway or provider not honouring it); stopped, nothing applied. */
  | 'tooLarge'
  | 'agentStopped'
  | 'invalidEdit'
  | 'editConflict'
  | 'documentNotOpen'
  | 'rangeOutOfBounds'
  | 'invalidParams'
  | 'unknownJob'
  | 'unknownSession'
  | 'unknownAction'
  | 'editRejected'
  /** A request before `initialize` (code -32002). */
  | 'notInitialized'
  /** A request after `shutdown` (code -32600). */
  | 'shutDown'
  | 'internal';
