/**
 * Shows the user what each model job is doing: `efrit/stream` notifications
 * (text deltas, status and tool notes, the end) for every client, and
 * `$/progress` on the request's own `workDoneToken` when it gave one, else on
 * a server-created token for clients that advertise `window.workDoneProgress`.
 *
 * Every note carries the stream identity (`streamId`, `workDoneToken`) of each
 * request that follows the job, from the first note on, so a client can tie
 * it to its request before the response names the job. A job several requests
 * wait for (the same action picked twice, `efrit.applyJob` after a resolve)
 * sends each note once per identity; a job nobody named sends it once, bare.
 *
 * The first text of a job goes out at once; after each send, further deltas
 * are coalesced for a few milliseconds: a model streams dozens of tiny deltas
 * a second, and one notification per delta would make editors (Emacs
 * especially) redraw far more often than anyone can read.
 *
 * A job's text is one stream to the redactor: a secret the model quotes
 * across two deltas is caught, at the cost of holding back only a tail that
 * could still begin one.
 */
import { performance } from 'node:perf_hooks';
import {
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  type Connection,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageserver/node';
import type { JobReporter } from '../assistant/assistant.js';
import type { Logger, SecretRedactor } from '../common/logger.js';
import { Methods, type ProgressToken, type StreamIdentity, type StreamKind, type StreamParams } from '../protocol.js';
import { StreamRedactor } from '../common/redaction.js';

interface JobProgress {
  sessionId: string | undefined;
  title: string;
  /** The title with the document's path: what every note carries for a client's heading. */
  heading: string;
  pendingText: string;
  flushTimer: NodeJS.Timeout | undefined;
  /** Each resolves to a progress token once it has begun (the client accepted a server-created one), or undefined. */
  tokens: Promise<ProgressToken | undefined>[];
  /** The requests following the job that named their stream; empty: notes go out bare. */
  identities: StreamIdentity[];
  sawText: boolean;
  /** The job's text so far, minus a tail that could still be the start of a secret. */
  redaction: StreamRedactor;
  /** When text last went out (by `now`); undefined until the first, which goes at once. */
  textSentAt: number | undefined;
}

function isNamed(stream: StreamIdentity | undefined): stream is StreamIdentity {
  return stream !== undefined && (stream.streamId !== undefined || stream.workDoneToken !== undefined);
}

const textFlushMs = 15;

export class LspJobReporter implements JobReporter {
  private readonly jobs = new Map<string, JobProgress>();

  constructor(
    private readonly connection: Connection,
    private readonly supportsProgress: () => boolean,
    private readonly redactor: SecretRedactor,
    private readonly logger: Logger,
    /** Milliseconds on a monotonic clock, injectable for tests. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  begin(job: { jobId: string; title: string; document?: string | undefined; sessionId?: string | undefined; stream?: StreamIdentity | undefined }): void {
    const progress: JobProgress = {
      sessionId: job.sessionId,
      title: job.title,
      heading: job.document === undefined ? job.title : `${job.title} · ${job.document}`,
      pendingText: '',
      flushTimer: undefined,
      tokens: [],
      identities: [],
      sawText: false,
      redaction: new StreamRedactor(this.redactor),
      textSentAt: undefined,
    };
    this.jobs.set(job.jobId, progress);
    if (isNamed(job.stream)) this.addFollower(progress, job.stream);
    // A client-given token needs no window/workDoneProgress/create (LSP: the server may use it at once).
    if (progress.tokens.length === 0 && this.supportsProgress()) progress.tokens.push(this.createToken(job.jobId, job.title));
  }

  follow(jobId: string, stream: StreamIdentity | undefined): void {
    const job = this.jobs.get(jobId);
    if (job === undefined || !isNamed(stream)) return;
    const known = job.identities.some((other) => other.streamId === stream.streamId && other.workDoneToken === stream.workDoneToken);
    if (!known) this.addFollower(job, stream);
  }

  private addFollower(job: JobProgress, stream: StreamIdentity): void {
    job.identities.push(stream);
    const token = stream.workDoneToken;
    if (token === undefined) return;
    this.progress(token, { kind: 'begin', title: job.title, cancellable: false });
    job.tokens.push(Promise.resolve(token));
  }

  queued(jobId: string, ahead: number): void {
    this.report(jobId, `queued (${ahead} ahead)`);
    this.notify(jobId, 'status', `queued (${ahead} ahead)`);
  }

  text(jobId: string, delta: string): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    if (!job.sawText) {
      job.sawText = true;
      this.report(jobId, 'answering…');
    }
    job.pendingText += job.redaction.push(delta);
    if (job.pendingText === '' || job.flushTimer !== undefined) return;
    const sinceSent = job.textSentAt === undefined ? textFlushMs : this.now() - job.textSentAt;
    if (sinceSent >= textFlushMs) this.flush(jobId);
    else job.flushTimer = setTimeout(() => this.flush(jobId), textFlushMs - sinceSent);
  }

  note(jobId: string, kind: 'status' | 'tool', text: string): void {
    this.flush(jobId);
    this.report(jobId, text);
    this.notify(jobId, kind, text);
  }

  end(jobId: string, outcome: { ok: true; text?: string } | { ok: false; message: string }): void {
    const job = this.jobs.get(jobId);
    if (job !== undefined) job.pendingText += job.redaction.end();
    this.flush(jobId);
    this.jobs.delete(jobId);
    const message = outcome.ok ? 'done' : outcome.message;
    this.notify(jobId, outcome.ok ? 'done' : 'error', message, job);
    for (const token of job?.tokens ?? []) {
      void token.then((begun) => {
        if (begun !== undefined) this.progress(begun, { kind: 'end', message: this.redactor.redact(message) });
      });
    }
  }

  private flush(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    if (job.flushTimer !== undefined) clearTimeout(job.flushTimer);
    job.flushTimer = undefined;
    if (job.pendingText === '') return;
    const text = job.pendingText;
    job.pendingText = '';
    job.textSentAt = this.now();
    this.notify(jobId, 'text', text);
  }

  private notify(jobId: string, kind: StreamKind, text: string, job = this.jobs.get(jobId)): void {
    const sessionId = job?.sessionId;
    const note: StreamParams = {
      jobId,
      ...(sessionId !== undefined ? { sessionId } : {}),
      ...(job !== undefined ? { title: this.redactor.redact(job.heading) } : {}),
      kind,
      text: this.redactor.redact(text),
    };
    const identities = job === undefined || job.identities.length === 0 ? [{}] : job.identities;
    for (const identity of identities) {
      this.connection.sendNotification(Methods.stream, { ...note, ...identity }).catch((error: unknown) => this.logger.debug('efrit/stream not sent', error));
    }
  }

  private report(jobId: string, message: string): void {
    for (const token of this.jobs.get(jobId)?.tokens ?? []) {
      void token.then((begun) => {
        if (begun !== undefined) this.progress(begun, { kind: 'report', message: this.redactor.redact(message) });
      });
    }
  }

  private async createToken(jobId: string, title: string): Promise<string | undefined> {
    const token = `efrit-${jobId}`;
    try {
      await this.connection.sendRequest(WorkDoneProgressCreateRequest.type, { token });
    } catch (error) {
      this.logger.debug(`The client refused a progress token for ${jobId}`, error);
      return undefined;
    }
    this.progress(token, { kind: 'begin', title, cancellable: false });
    return token;
  }

  private progress(token: ProgressToken, value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd): void {
    this.connection.sendProgress(WorkDoneProgress.type, token, value).catch((error: unknown) => this.logger.debug('$/progress not sent', error));
  }
}
