/**
 * The assistant's domain: turns "run this action / answer this message / do
 * this" into queued model jobs, and their answers into text or versioned
 * edits. It never touches the LSP connection: progress and streamed text go
 * out through the `JobReporter` the feature layer supplies, and edits come back
 * as `PlannedEdit`s that the feature layer applies.
 */
import type { ContentBlockParam, MessageParam, TextBlockParam, Tool, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { Diagnostic, Range, WorkspaceEdit } from 'vscode-languageserver-types';
import { readTextFile } from '../agent/workspace-paths.js';
import { modelCallsTools, type Settings } from '../settings/config.js';
import type { ModelCapabilityCache } from '../model/model-capabilities.js';
import { captureContext, relativePathOf, validateRange, type CaptureOptions, type CapturedContext } from '../context/capture-context.js';
import { documentTurn, type DocumentTurn } from '../sessions/delta-tracker.js';
import type { DocumentStore } from '../documents/document-store.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { EfritError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { ModelClient, ModelReply, ModelRequest, ToolCall } from '../model/model-client.js';
import { excerptText, proposeEditsTool, systemBlocks, systemPrompt, textEditsSystemPrompt, withCacheBreakpoints } from '../model/prompts.js';
import type { CallUsage, UsageMeter } from '../model/usage-meter.js';
import { BuiltinActions, type DoCheck, type Priority, type StreamIdentity } from '../protocol.js';
import type { Job, JobQueue } from '../queue/job-queue.js';
import type { Session, SessionStore } from '../sessions/session-store.js';
import { actionCatalog, actionTitle, findAction, type ActionDefinition } from './action-catalog.js';
import { notRunResults, runAgentLoop } from '../agent/do-agent.js';
import { defaultMaxFileBytes, readOnlyToolDefinitions, type ToolOutcome, type WorkspaceTools } from '../agent/workspace-tools.js';
import type { SemanticTools } from '../agent/semantic-tools.js';
import type { ProposalChecker } from './proposal-check.js';
import { excerptQuoteSource } from './edit-proposal.js';
import { planChange, type PlannedChange, type PlanTarget } from './change-plan.js';
import { looksLikeTextEdits, parseTextEdits } from './text-edits.js';
import { buildWorkspaceEdit, filesChangedSince, type BuildEnvironment } from './workspace-edit.js';
import { ReadLedger } from '../agent/read-ledger.js';
import { ProjectInstructions } from '../agent/project-instructions.js';
import { attachMentions } from '../agent/mentions.js';
import { PrefetchPolicy, type PrefetchStats } from './prefetch-policy.js';
import type { CheckRunner } from '../agent/check-commands.js';
import { ProposalChecks } from '../agent/proposal-checks.js';
import { CheckRunLog, checksSummary } from '../agent/check-runs.js';
import type { LimiterClock } from '../common/sliding-window-limiter.js';

/** How the domain tells the user what a job is doing; the feature layer maps it to LSP. */
export interface JobReporter {
  /** `stream`: how the request that started the job names its notes; `document`: the path of the document it works on, for people. */
  begin(job: { jobId: string; title: string; document?: string | undefined; sessionId?: string | undefined; stream?: StreamIdentity | undefined }): void;
  /** Another request now waits for a running job: its notes carry that request's identity too. */
  follow(jobId: string, stream: StreamIdentity | undefined): void;
  queued(jobId: string, ahead: number): void;
  text(jobId: string, delta: string): void;
  note(jobId: string, kind: 'status' | 'tool', text: string): void;
  end(jobId: string, outcome: { ok: true; text?: string } | { ok: false; message: string }): void;
}

export type ActionOutcome = { kind: 'edit'; plan: PlannedChange; summary: string } | { kind: 'text'; text: string };

export interface ActionRequest {
  actionId: string;
  uri: string;
  range: Range;
  instruction?: string | undefined;
  diagnostics?: readonly Diagnostic[] | undefined;
  priority?: Priority;
  stream?: StreamIdentity | undefined;
  /** The editor can create files from a WorkspaceEdit (resourceOperations "create"): "Write tests" then writes a test file of its own. */
  canCreateFiles?: boolean | undefined;
}

export interface ChatOutcome {
  sessionId: string;
  reply: string;
  usage: CallUsage;
}

export interface DoOutcome {
  sessionId: string;
  summary: string;
  /** Model steps the agent took. */
  steps: number;
  plan: PlannedChange | null;
  /** The checks run on the proposals, for the result (`DoResult.checks`). */
  checks: DoCheck[];
  /**
   * Tells the model, at the head of the session's next turn, what became of
   * the change (applied, rejected in review, refused by the editor). Only
   * until that turn starts: the history it joins is never rewritten after.
   */
  settle(what: string): void;
}

export interface AssistantDeps {
  documents: DocumentStore;
  queue: JobQueue;
  model: ModelClient;
  sessions: SessionStore;
  usage: UsageMeter;
  settings: () => Settings;
  workspaceRoots: () => string[];
  reporter: JobReporter;
  logger: Logger;
  /** The read-only workspace tools of the efrit/do agent. */
  tools: WorkspaceTools;
  /** Runs the project's checks (`agent.commands`) for the do agent; without it, run_check is never offered. */
  checks?: CheckRunner | undefined;
  /** Proxy mode: the tools that ask the wrapped language server (definition, references…); none without it. */
  semanticTools?: SemanticTools | undefined;
  /** Proxy mode: checks a proposed change with the wrapped language server before the editor sees it. */
  proposalChecker?: ProposalChecker | undefined;
  /** Time for the prefetch cap. @default the system clock */
  clock?: LimiterClock | undefined;
  /** What the provider says a model can do (tools); without it, `modelsWithoutTools` alone decides. */
  capabilities?: Pick<ModelCapabilityCache, 'callsTools'> | undefined;
}

/** Every request offers the same tools (tool_choice says which may be used), so its cached prefix never depends on the action. */
const allTools = [proposeEditsTool, ...readOnlyToolDefinitions];

export class Assistant {
  private readonly prefetches: PrefetchPolicy;
  /** Jobs started by startAction: their outcome is an ActionOutcome. */
  private readonly actionJobs = new WeakSet<Job<unknown>>();
  /** Jobs started by do: their outcome is a DoOutcome, which efrit.applyJob may apply after a review. */
  private readonly doJobs = new WeakSet<Job<unknown>>();
  private readonly instructions: ProjectInstructions;

  constructor(private readonly deps: AssistantDeps) {
    this.prefetches = new PrefetchPolicy({ clock: deps.clock });
    this.instructions = new ProjectInstructions({
      roots: deps.workspaceRoots,
      enabled: () => deps.settings()['agent.projectInstructions'],
      allowSecretFiles: () => deps.settings()['agent.allowSecretFiles'],
      logger: deps.logger,
    });
  }

  actions(): ActionDefinition[] {
    return actionCatalog(this.deps.settings().actions);
  }

  /** The open document, or a clear error naming it. */
  document(uri: string): TrackedDocument {
    const doc = this.deps.documents.get(uri);
    if (doc === undefined) {
      throw new EfritError('documentNotOpen', `${uri} is not open in the editor (no didOpen received); open it and try again.`);
    }
    return doc;
  }

  /**
   * Starts an action, or returns the job already doing exactly this work (same
   * action, document version, range, instruction and diagnostics): a resolve
   * that handed over to `efrit.applyJob`, or a user picking the action twice,
   * never costs a second model call.
   */
  startAction(request: ActionRequest): Job<ActionOutcome> {
    const settings = this.deps.settings();
    const action = findAction(settings.actions, request.actionId);
    if (action === undefined) {
      throw new EfritError('unknownAction', `There is no Efrit action "${request.actionId}"; see the code action menu for the ones there are.`);
    }
    const doc = this.document(request.uri);
    this.checkRange(doc, request.range);
    const diagnostics = request.diagnostics ?? [];
    const priority = request.priority ?? 'interactive';
    const key = JSON.stringify([action.id, doc.uri, doc.version, request.range, request.instruction ?? null, diagnostics.map((d) => [d.range, d.message])]);
    const existing = this.deps.queue.findByKey(key);
    if (existing !== undefined) {
      if (priority === 'interactive') this.prefetches.claim(existing.id);
      this.deps.queue.promote(existing.id, priority);
      this.follow(existing, request.stream);
      return existing as Job<ActionOutcome>;
    }

    const context = this.capture(doc, request.range, diagnostics);
    const selectionStart = doc.offsetAt(request.range.start);
    const target: PlanTarget = {
      uri: doc.uri,
      displayPath: context.relativePath,
      excerpt: excerptQuoteSource(context, doc.eol, selectionStart),
      baseVersion: doc.version,
      baseEpoch: doc.journal.epoch,
      openId: doc.openId,
    };
    const userText = `${excerptText(context)}\n\n${action.request({ instruction: request.instruction, diagnostics, canCreateFiles: request.canCreateFiles === true })}`;
    const job = this.submit<ActionOutcome>({
      title: actionTitle(action, diagnostics[0]),
      priority,
      uri: doc.uri,
      key,
      stream: request.stream,
      // A text answer for an older version of the same range is no longer wanted.
      supersedes: action.producesEdit ? undefined : JSON.stringify([action.id, doc.uri, request.range]),
      run: async (signal, jobId) => {
        const reply = await this.callModel(jobId, signal, {
          messages: [{ role: 'user', content: userText }],
          toolChoice: action.producesEdit ? { type: 'tool', name: proposeEditsTool.name } : { type: 'none' },
        });
        if (!action.producesEdit) return { kind: 'text', text: reply.text };
        const input = reply.withoutTools ? this.textProposal(reply) : this.proposalCall(reply)?.input;
        if (input === undefined) {
          throw new EfritError('invalidEdit', 'The model answered without an edit; nothing was changed. Try again or rephrase.');
        }
        // A one-shot action has read nothing but its excerpt: it may edit its document and create files, no more.
        const plan = await planChange(input, this.planEnvironment(target, undefined));
        return { kind: 'edit', plan, summary: plan.summary };
      },
    });
    this.actionJobs.add(job);
    return job;
  }

  /** A request now waits for this job too (`efrit.applyJob`): its stream notes carry that request's identity. */
  follow(job: Job<unknown>, stream: StreamIdentity | undefined): void {
    this.deps.reporter.follow(job.id, stream);
  }

  /** Whether the job is a code action's (and so has an ActionOutcome), not a chat's or a do's. */
  isActionJob(job: Job<unknown>): job is Job<ActionOutcome> {
    return this.actionJobs.has(job);
  }

  /** Whether the job is an efrit/do's (and so has a DoOutcome). */
  isDoJob(job: Job<unknown>): job is Job<DoOutcome> {
    return this.doJobs.has(job);
  }

  /** One turn of a conversation, optionally about a document range. */
  chat(params: { sessionId?: string | undefined; message: string; uri?: string | undefined; range?: Range | undefined; stream?: StreamIdentity | undefined }): Job<ChatOutcome> {
    const target = params.uri === undefined ? undefined : this.target(params.uri, params.range);
    const session = this.session(params.sessionId);
    return this.submitInSession<ChatOutcome>(session, 'Efrit: Chat', params.stream, async (signal, jobId) => {
      // Built when the turn runs, after the session's previous turn: the delta is against what the model saw last.
      // The project instructions load while the mentions are read: both are file system round trips before the model call.
      void this.instructions.forJob(jobId);
      const turn = target === undefined ? undefined : this.documentTurn(session, target.uri, target.range);
      const mentions = await attachMentions(params.message, this.deps.tools);
      for (const note of mentions.notes) this.deps.reporter.note(jobId, 'tool', note);
      const userMessage = this.userTurn(session, [turn?.text, mentions.text, params.message]);
      const reply = await this.callModel(jobId, signal, { messages: [...session.messages, userMessage], toolChoice: { type: 'none' }, sessionId: session.id });
      this.commit(session, [userMessage, reply.assistantMessage], turn);
      // Chat runs no tools, but a reply may carry a tool call anyway (a gateway, another model): the API requires
      // every call answered before the conversation goes on, so the next turn says it was not run.
      session.pendingToolResults.push(...reply.toolCalls.map((call) => notRunResult(call.id, 'Not run: tools are not available in chat.')));
      return { sessionId: session.id, reply: reply.text, usage: reply.usage };
    });
  }

  /**
   * `efrit/do`: the efrit-style agent. The model may read open documents and
   * workspace files over several steps, then proposes edits or answers in
   * words; see agent/do-agent.ts for its bounds.
   */
  do(params: { sessionId?: string | undefined; instruction: string; uri: string; range?: Range | undefined; stream?: StreamIdentity | undefined }): Job<DoOutcome> {
    const target = this.target(params.uri, params.range);
    const session = this.session(params.sessionId);
    const job = this.submitInSession<DoOutcome>(session, `Efrit: Do: ${params.instruction.slice(0, 60)}`, params.stream, async (signal, jobId) => {
      const settings = this.deps.settings();
      const turn = this.documentTurn(session, target.uri, target.range);
      const doc = this.document(target.uri);
      const planTarget: PlanTarget = {
        uri: doc.uri,
        displayPath: turn.match.relativePath,
        excerpt: excerptQuoteSource(turn.match, doc.eol, doc.offsetAt(target.range.start)),
        baseVersion: doc.version,
        baseEpoch: doc.journal.epoch,
        openId: doc.openId,
      };
      const mentions = await attachMentions(params.instruction, this.deps.tools);
      for (const note of mentions.notes) this.deps.reporter.note(jobId, 'tool', note);
      const userMessage = this.userTurn(session, [turn.text, mentions.text, `Instruction: ${params.instruction}`]);
      if (!(await this.callsTools(settings, signal))) return this.doWithoutTools(jobId, signal, { session, userMessage, turn, planTarget });
      // What the agent reads in this job (a file the user @-mentioned included): the only text its edits to other files may quote.
      const ledger = new ReadLedger();
      for (const file of mentions.files) ledger.record(file.displayPath, file.text, file.origin, file.shownLines.start, file.shownLines.end);
      let plan: PlannedChange | undefined;
      const runs = new CheckRunLog();
      const checks = this.proposalChecks(jobId, signal, doc.uri, runs);
      let currentStep = 0;
      const result = await runAgentLoop({
        prefix: [...session.messages, userMessage],
        step: async (messages) => {
          const reply = await this.callModel(jobId, signal, { messages, toolChoice: { type: 'auto' }, sessionId: session.id });
          checks?.observe(reply);
          return reply;
        },
        runTool: (call) => (checks?.handles(call) === true ? checks.answer(call) : this.runTool(call, signal, ledger)),
        finalTool: proposeEditsTool.name,
        acceptFinal: async (call) => {
          let planned: PlannedChange;
          try {
            planned = await planChange(call.input, this.planEnvironment(planTarget, ledger));
          } catch (error) {
            if (error instanceof EfritError && error.reason === 'invalidEdit') return error.message;
            throw error;
          }
          // The language server's check first (new errors go back to the model), then the project's own checks.
          // At the last step there is no next one to fix it in: the change goes over, and the summary and the result say what failed.
          const lastStep = currentStep >= settings['agent.maxSteps'];
          const refusal = await this.checkProposal(planned, jobId, signal, { runs, proposal: JSON.stringify(call.input) });
          if (refusal !== undefined && !lastStep) return refusal;
          if (refusal !== undefined) this.deps.reporter.note(jobId, 'tool', 'no step left to fix the new errors: the change goes to you with them (see the summary)');
          const heldBack = await checks?.judge(planned, call, lastStep);
          if (heldBack === undefined) plan = planned;
          return heldBack;
        },
        ...(checks === undefined ? {} : { callKey: (call: ToolCall, turn: readonly ToolCall[]) => checks.callKey(call, turn) }),
        onToolNote: (text) => {
          if (text !== '') this.deps.reporter.note(jobId, 'tool', text);
        },
        onStep: (step) => {
          currentStep = step;
          runs.step = step;
          if (step > 1) this.deps.reporter.note(jobId, 'status', `step ${step}`);
        },
        limits: {
          maxSteps: settings['agent.maxSteps'],
          tokenBudget: settings['agent.tokenBudget'],
          logBudgetTokens: settings['agent.logBudgetTokens'],
        },
        signal,
      });
      const reply = result.finalReply;
      const call = this.proposalCall(reply);
      this.commit(session, [userMessage, ...result.history], turn);
      // The API requires every tool_use to be answered before the conversation goes on; what became of the change is
      // filled in when it is known (settle), as long as the next turn has not started.
      const answer: ToolResultBlockParam | undefined = call === undefined ? undefined : { type: 'tool_result', tool_use_id: call.id, content: 'The change was handed to the editor.' };
      if (answer !== undefined) session.pendingToolResults.push(answer);
      session.pendingToolResults.push(...(checks?.pendingAnswers(result.unansweredCalls) ?? notRunResults(result.unansweredCalls)));
      const handedOver = call !== undefined && plan !== undefined;
      const finalProposal = handedOver ? JSON.stringify(call.input) : undefined;
      const lines = [runs.languageServerLine(finalProposal), ...(checks?.reportLines(handedOver) ?? [])].filter((line) => line !== undefined);
      const checkReport = checksSummary(handedOver, lines);
      const answered = plan !== undefined && plan.summary !== '' ? plan.summary : reply.text.trim();
      const summary = checkReport === '' ? answered : `${answered}\n\n${checkReport}`;
      return {
        sessionId: session.id,
        summary,
        steps: result.steps,
        plan: call === undefined ? null : (plan ?? null),
        checks: runs.results(finalProposal),
        settle: (what) => {
          if (answer !== undefined && session.pendingToolResults.includes(answer)) answer.content = what;
        },
      };
    });
    this.doJobs.add(job);
    if (this.deps.settings()['agent.checkProposals']) this.deps.proposalChecker?.keepWarmDuring(target.uri, job.result);
    return job;
  }

  /**
   * The change as it can be applied now (see workspace-edit.ts): open
   * documents rebased onto what the user typed since, files on disk checked
   * against what was read; refused whole when any part cannot be.
   */
  toWorkspaceEdit(plan: PlannedChange, env: Pick<BuildEnvironment, 'capabilities' | 'exclude' | 'refuseText'>): Promise<WorkspaceEdit> {
    return buildWorkspaceEdit(plan, { ...env, ...this.filesNow(), confirm: this.deps.settings()['edits.confirm'], summary: plan.summary });
  }

  /** After the editor refused `sent`: which files of the change it changed anyway (see workspace-edit.ts). */
  filesChangedSince(plan: PlannedChange, sent: WorkspaceEdit): Promise<string[]> {
    return filesChangedSince(plan, sent, this.filesNow());
  }

  /** How the change's files are looked at now: open documents first, the disk under read_file's rules. */
  private filesNow(): Pick<BuildEnvironment, 'document' | 'openDocumentFor' | 'readDisk'> {
    const { documents, tools } = this.deps;
    return {
      document: (uri) => documents.get(uri),
      openDocumentFor: async (lexicalPath) => tools.openDocumentAt(await tools.locate(lexicalPath)),
      readDisk: async (realPath, displayPath) => {
        // The same bound as read_file: the agent read the file under it, and a file grown past it is not read again whole.
        const read = await readTextFile(realPath, { maxFileBytes: defaultMaxFileBytes, displayPath });
        return read.kind === 'text' ? read.text : undefined;
      },
    };
  }

  /**
   * Starts the fix for a diagnostic at background priority, so that picking
   * "Efrit: Fix" finds it finished or running (the job key is the one the pick
   * computes). Off unless `prefetch` is on; capped per minute; a prefetch
   * whose document moves on is dropped.
   */
  prefetchFix(uri: string, range: Range, diagnostic: Diagnostic): void {
    if (!this.prefetches.mayStart(this.deps.settings())) return;
    const doc = this.deps.documents.get(uri);
    if (doc === undefined) return;
    const key = JSON.stringify([BuiltinActions.fix, doc.uri, doc.version, range, null, [[diagnostic.range, diagnostic.message]]]);
    if (this.deps.queue.findByKey(key) !== undefined) return;
    try {
      const job = this.startAction({ actionId: BuiltinActions.fix, uri, range, diagnostics: [diagnostic], priority: 'background' });
      this.prefetches.started(job.id, uri, doc.version);
    } catch (error) {
      // A full queue or a bad range: a prefetch is only ever a guess, so it is skipped quietly.
      this.deps.logger.debug(`prefetch skipped: ${messageOf(error)}`);
    }
  }

  /** Drops prefetches made for older versions of a document that changed or closed. */
  documentChanged(uri: string): void {
    const version = this.deps.documents.get(uri)?.version;
    for (const jobId of this.prefetches.outdated(uri, version)) {
      this.deps.queue.cancel(jobId, 'The document changed; the prefetched fix was for an older version.', 'documentChanged');
    }
  }

  prefetchStats(): PrefetchStats {
    return this.prefetches.stats();
  }

  cancel(target: { jobId?: string | undefined; sessionId?: string | undefined }): number {
    const { queue } = this.deps;
    if (target.jobId !== undefined) return queue.cancel(target.jobId) ? 1 : 0;
    if (target.sessionId !== undefined) return queue.cancelWhere((job) => job.spec.sessionId === target.sessionId);
    return queue.cancelWhere(() => true);
  }

  endSession(sessionId: string): boolean {
    this.deps.queue.cancelWhere((job) => job.spec.sessionId === sessionId, 'The session ended.', 'sessionEnded');
    return this.deps.sessions.end(sessionId);
  }

  private checkRange(doc: TrackedDocument, range: Range): void {
    const problem = validateRange(doc, range);
    if (problem !== undefined) throw new EfritError('rangeOutOfBounds', problem);
  }

  private capture(doc: TrackedDocument, range: Range, diagnostics: readonly Diagnostic[]): CapturedContext {
    return captureContext(doc, range, this.captureOptions(diagnostics));
  }

  private captureOptions(diagnostics: readonly Diagnostic[]): CaptureOptions {
    const settings = this.deps.settings();
    return {
      linesBefore: settings['context.linesBefore'],
      linesAfter: settings['context.linesAfter'],
      maxChars: settings['context.maxChars'],
      workspaceRoots: this.deps.workspaceRoots(),
      diagnostics: [...diagnostics],
    };
  }

  private session(sessionId: string | undefined): Session {
    if (sessionId === undefined) return this.deps.sessions.create();
    const session = this.deps.sessions.get(sessionId);
    if (session === undefined) {
      throw new EfritError('unknownSession', `Session ${sessionId} has ended or expired; start a new one by leaving sessionId out.`);
    }
    return session;
  }

  /** A user message that first answers any tool calls the previous turn left open; one text block per part (undefined: none). */
  private userTurn(session: Session, parts: (string | undefined)[]): MessageParam {
    const texts = parts.filter((text): text is string => text !== undefined);
    const content: ContentBlockParam[] = [...session.pendingToolResults, ...texts.map((text): ContentBlockParam => ({ type: 'text', text }))];
    session.pendingToolResults = [];
    return { role: 'user', content };
  }

  /** Checked when the request arrives, so a bad document or range is refused before anything is queued. */
  private target(uri: string, range: Range | undefined): { uri: string; range: Range } {
    const doc = this.document(uri);
    const wanted = range ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    this.checkRange(doc, wanted);
    return { uri, range: wanted };
  }

  /** What the model is told about the document this turn: a window, the changes since it last saw one, or "unchanged". */
  private documentTurn(session: Session, uri: string, range: Range): DocumentTurn {
    const settings = this.deps.settings();
    const doc = this.document(uri);
    this.checkRange(doc, range);
    return documentTurn(doc, range, session.views.get(uri), { ...this.captureOptions([]), rebaseShare: settings['context.rebasePercent'] / 100 }, settings.deltas);
  }

  /** A finished turn joins the history, and what the model saw of the document becomes the base of the next delta. */
  private commit(session: Session, turn: MessageParam[], document: DocumentTurn | undefined): void {
    if (document !== undefined) {
      session.views.set(document.view.uri, document.view);
      this.deps.usage.recordDeltaSaving(document.bytesSaved);
    }
    this.deps.sessions.commitTurn(session, turn.map(withContent));
  }

  /** The reply's `propose_edits` call, refused whole when the answer was cut off in the middle of it. */
  private proposalCall(reply: ModelReply): ToolCall | undefined {
    const call = reply.toolCalls.find((c) => c.name === proposeEditsTool.name);
    if (call === undefined) return undefined;
    if (reply.stopReason === 'max_tokens') {
      throw new EfritError('incomplete', 'The answer was cut off at efrit.maxTokens before the edit was complete; nothing was changed. Raise maxTokens or select less code.');
    }
    return call;
  }

  /** A text answer's SEARCH/REPLACE blocks as `propose_edits` input (text-edits.ts), refused whole when the answer was cut off. */
  private textProposal(reply: ModelReply): unknown {
    if (reply.stopReason === 'max_tokens' && looksLikeTextEdits(reply.text)) {
      throw new EfritError('incomplete', 'The answer was cut off at efrit.maxTokens before the edit was complete; nothing was changed. Raise maxTokens or select less code.');
    }
    return parseTextEdits(reply.text);
  }

  /**
   * efrit/do for a model that cannot call tools: one step, nothing read beyond
   * the excerpt, so its edits may quote only the excerpt. An answer with
   * SEARCH/REPLACE blocks is a change (malformed: invalidEdit); any other is words.
   */
  private async doWithoutTools(
    jobId: string,
    signal: AbortSignal,
    turn: { session: Session; userMessage: MessageParam; turn: DocumentTurn; planTarget: PlanTarget },
  ): Promise<DoOutcome> {
    const { session } = turn;
    const reply = await this.callModel(jobId, signal, { messages: [...session.messages, turn.userMessage], sessionId: session.id });
    this.commit(session, [turn.userMessage, reply.assistantMessage], turn.turn);
    // A reply may carry a tool call anyway (a gateway, a setting changed meanwhile): the API requires every call answered.
    session.pendingToolResults.push(...reply.toolCalls.map((call) => notRunResult(call.id, 'Not run: this model is offered no tools.')));
    const runs = new CheckRunLog();
    let plan: PlannedChange | null = null;
    let proposal: string | undefined;
    if (looksLikeTextEdits(reply.text)) {
      const input = this.textProposal(reply);
      plan = await planChange(input, this.planEnvironment(turn.planTarget, undefined));
      proposal = JSON.stringify(input);
      // One step: nothing can go back to the model, so the language server's findings are reported, not refused (no command check: the model cannot ask for one).
      const refusal = await this.checkProposal(plan, jobId, signal, { runs, proposal });
      if (refusal !== undefined) this.deps.reporter.note(jobId, 'tool', 'this model takes one step: the change goes to you with the new errors (see the summary)');
    }
    const answered = plan !== null && plan.summary !== '' ? plan.summary : reply.text.trim();
    const line = runs.languageServerLine(proposal);
    const summary = line === undefined ? answered : `${answered}\n\n${checksSummary(true, [line])}`;
    return { sessionId: session.id, summary, steps: 1, plan, checks: runs.results(proposal), settle: () => undefined };
  }

  /** The checks of one do job, when the user configured some (agent.commands). */
  private proposalChecks(jobId: string, signal: AbortSignal, near: string, runs: CheckRunLog): ProposalChecks | undefined {
    const runner = this.deps.checks;
    if (runner === undefined || Object.keys(runner.commands()).length === 0) return undefined;
    const { documents } = this.deps;
    return new ProposalChecks({
      runner,
      near,
      signal,
      // The edit as a client that takes everything would get it: the check sees the whole change.
      workspaceEdit: (plan) =>
        this.toWorkspaceEdit(plan, { capabilities: { documentChanges: true, resourceOperations: new Set(['create', 'rename', 'delete']), changeAnnotations: false }, exclude: new Set(), refuseText: () => undefined }),
      roots: () => this.deps.workspaceRoots(),
      openDocuments: () => documents.uris().flatMap((uri) => documents.get(uri) ?? []),
      note: (text) => this.deps.reporter.note(jobId, 'tool', text),
      runs,
    });
  }

  private planEnvironment(target: PlanTarget, ledger: ReadLedger | undefined) {
    const settings = this.deps.settings();
    const { tools, documents } = this.deps;
    return {
      target,
      ledger,
      locate: (path: string) => tools.locate(path),
      openDocumentAt: (located: Parameters<WorkspaceTools['openDocumentAt']>[0]) => tools.openDocumentAt(located),
      document: (uri: string) => documents.get(uri),
      limits: { maxFiles: settings['edits.maxFiles'], maxBytes: settings['edits.maxBytes'] },
    };
  }

  /** A refusal naming the change's new errors, when the language server finds any; the stream shows each file's outcome, `record.runs` keeps it. */
  private async checkProposal(plan: PlannedChange, jobId: string, signal: AbortSignal, record: { runs: CheckRunLog; proposal: string }): Promise<string | undefined> {
    const checker = this.deps.proposalChecker;
    if (checker?.available() !== true || !this.deps.settings()['agent.checkProposals']) return undefined;
    const verdict = await checker.check(plan, signal);
    for (const note of verdict.notes) this.deps.reporter.note(jobId, 'tool', note);
    record.runs.recordLanguageServer(verdict, record.proposal);
    return verdict.refusal;
  }

  /** The read-only tools, then the language server's (decided once per process, so the list stays the same). */
  private toolList(): Tool[] {
    const semantic = this.deps.semanticTools?.definitions() ?? [];
    return semantic.length === 0 ? allTools : [...allTools, ...semantic];
  }

  private runTool(call: ToolCall, signal: AbortSignal, ledger: ReadLedger): Promise<ToolOutcome> {
    const semantic = this.deps.semanticTools;
    if (semantic?.handles(call.name) === true) return semantic.run(call.name, call.input, signal);
    return this.deps.tools.run(call.name, call.input, signal, ledger);
  }

  /** Whether the actions' model may be offered tools: what its provider says, the settings where it says nothing. */
  private callsTools(settings: Settings, signal: AbortSignal): Promise<boolean> {
    const { capabilities } = this.deps;
    return capabilities === undefined ? Promise.resolve(modelCallsTools(settings, settings.model)) : capabilities.callsTools(settings, settings.model, signal);
  }

  private async callModel(
    jobId: string,
    signal: AbortSignal,
    turn: Pick<ModelRequest, 'messages' | 'toolChoice'> & { sessionId?: string | undefined },
  ): Promise<ModelReply & { withoutTools: boolean }> {
    const settings = this.deps.settings();
    const { reporter } = this.deps;
    // A model that cannot call tools is offered none, and told to write its edits as text (text-edits.ts).
    // Loaded once per job (forJob never rejects), while the capabilities are asked.
    const instructions = this.instructions.forJob(jobId);
    const withoutTools = !(await this.callsTools(settings, signal));
    const system: TextBlockParam[] = systemBlocks(settings.promptCaching, await instructions, withoutTools ? textEditsSystemPrompt : systemPrompt);
    reporter.note(jobId, 'status', `asking ${settings.model}`);
    const toolsNoted = new Set<string>();
    const reply = await this.deps.model.call(
      {
        model: settings.model,
        maxTokens: settings.maxTokens,
        system,
        // Always the same tool list (for the settings and the wrapped server in force), so the cached prefix does not depend on the action.
        tools: withoutTools ? [] : [...this.toolList(), ...(this.deps.checks?.definitions() ?? [])],
        messages: withCacheBreakpoints(turn.messages, settings.promptCaching),
        ...(turn.toolChoice !== undefined && !withoutTools ? { toolChoice: turn.toolChoice } : {}),
      },
      {
        signal,
        stallMs: settings['queue.stallMs'],
        observer: {
          onText: (delta) => reporter.text(jobId, delta),
          // Once per tool per reply: a reply may call the same tool hundreds of times, and a note each would flood the editor.
          onToolStart: (name) => {
            if (toolsNoted.has(name)) return;
            toolsNoted.add(name);
            reporter.note(jobId, 'tool', `writing ${name === proposeEditsTool.name ? 'the edit' : name}`);
          },
        },
      },
    );
    this.deps.usage.recordCall(reply.usage, { model: settings.model, sessionId: turn.sessionId });
    return { ...reply, withoutTools };
  }

  private submitInSession<T>(session: Session, title: string, stream: StreamIdentity | undefined, run: (signal: AbortSignal, jobId: string) => Promise<T>): Job<T> {
    const previous = session.busy;
    const job = this.submit<T>({
      title,
      priority: 'interactive',
      sessionId: session.id,
      stream,
      run: async (signal, jobId) => {
        // Turns of one session are answered in order: each needs the one before in its history.
        if (previous !== undefined) await previous.catch(() => undefined);
        signal.throwIfAborted();
        return run(signal, jobId);
      },
    });
    // Kept only now that the queue took the job: a refused request leaves no session behind.
    this.deps.sessions.admit(session);
    session.busy = job.result;
    // A new session whose first turn failed was never given to the client (the id rides on the result): drop it.
    job.result.catch(() => {
      if (session.messages.length === 0 && session.busy === job.result) this.deps.sessions.end(session.id);
    });
    return job;
  }

  private submit<T>(spec: {
    title: string;
    priority: Priority;
    uri?: string;
    key?: string;
    supersedes?: string | undefined;
    sessionId?: string;
    stream?: StreamIdentity | undefined;
    run: (signal: AbortSignal, jobId: string) => Promise<T>;
  }): Job<T> {
    const { queue, reporter, logger } = this.deps;
    const job = queue.submit<T>({
      title: spec.title,
      priority: spec.priority,
      uri: spec.uri,
      key: spec.key,
      supersedes: spec.supersedes,
      sessionId: spec.sessionId,
      run: ({ signal, jobId }) => spec.run(signal, jobId),
    });
    const document = spec.uri === undefined ? undefined : relativePathOf(spec.uri, this.deps.workspaceRoots());
    reporter.begin({ jobId: job.id, title: spec.title, document, sessionId: spec.sessionId, stream: spec.stream });
    const ahead = queue.aheadOf(job.id);
    if (job.state === 'queued' && ahead > 0) reporter.queued(job.id, ahead);
    job.result.then(
      (value) => reporter.end(job.id, { ok: true, ...(isTextOutcome(value) ? { text: value.text } : {}) }),
      (error: unknown) => {
        logger.info(`${spec.title} (${job.id}) did not finish: ${messageOf(error)}`);
        reporter.end(job.id, { ok: false, message: messageOf(error) });
      },
    );
    return job;
  }
}

function notRunResult(toolUseId: string, why: string): ToolResultBlockParam {
  return { type: 'tool_result', tool_use_id: toolUseId, content: why, is_error: true };
}

/**
 * The API refuses a history with an empty message in it; a reply with
 * nothing the history keeps (no text, no tool call) is kept as a note saying so.
 */
function withContent(message: MessageParam): MessageParam {
  const empty = typeof message.content === 'string' ? message.content === '' : message.content.length === 0;
  return empty ? { role: message.role, content: '(no answer)' } : message;
}

function isTextOutcome(value: unknown): value is { kind: 'text'; text: string } {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'text';
}
