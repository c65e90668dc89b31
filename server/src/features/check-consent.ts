/**
 * Asks the user whether the agent may run one of their check commands
 * (`agent.commands`): `window/showMessageRequest` with three answers. A
 * client that does not declare `window.showMessage` cannot be asked, and a
 * check is never run without asking, so it answers "unsupported". A job
 * cancelled while the question is open cancels the request
 * (`$/cancelRequest`), so a client that honours it closes the question.
 */
import { CancellationTokenSource, MessageType, ShowMessageRequest, type ClientCapabilities, type Connection } from 'vscode-languageserver/node';
import type { CommandConsent, ConsentAnswer, ConsentQuestion } from '../agent/check-commands.js';
import { shown } from '../agent/check-commands.js';
import type { Logger } from '../common/logger.js';

export const consentChoices = { once: 'Allow once', always: 'Always for this workspace', deny: 'Deny' } as const;

export function consentMessage(question: ConsentQuestion): string {
  return `Efrit's agent wants to run the check "${question.command}": ${shown(question.argv)} — in ${question.folder}, on a copy-on-write view of the workspace with its proposed change (your files are not changed). Allow it?`;
}

export class LspCommandConsent implements CommandConsent {
  constructor(
    private readonly connection: Connection,
    private readonly capabilities: () => ClientCapabilities,
    private readonly logger: Logger,
    /** Everything sent to the client is redacted: an argv may carry the API key. */
    private readonly redact: (text: string) => string,
  ) {}

  async ask(question: ConsentQuestion, signal: AbortSignal): Promise<ConsentAnswer> {
    if (this.capabilities().window?.showMessage === undefined) return 'unsupported';
    const cancel = new CancellationTokenSource();
    const onAbort = (): void => cancel.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const answer = await this.connection.sendRequest(
        ShowMessageRequest.type,
        { type: MessageType.Warning, message: this.redact(consentMessage(question)), actions: [{ title: consentChoices.once }, { title: consentChoices.always }, { title: consentChoices.deny }] },
        cancel.token,
      );
      switch (answer?.title) {
        case consentChoices.once:
          return 'once';
        case consentChoices.always:
          return 'always';
        case consentChoices.deny:
          return 'deny';
        default:
          return 'dismissed';
      }
    } catch (error) {
      // A client that fails the request has not allowed anything.
      this.logger.info(`window/showMessageRequest for the check "${question.command}" failed; not running it`, error);
      return 'dismissed';
    } finally {
      signal.removeEventListener('abort', onAbort);
      cancel.dispose();
    }
  }
}
