/**
 * An in-memory JSON-RPC link: two reader/writer pairs joined back to back, so
 * efrit-lsp's own server runs in-process behind the proxy without a second
 * round of framing and parsing. Delivery is asynchronous (a microtask), as it
 * would be over a stream, so neither side ever re-enters the other.
 */
import { AbstractMessageReader, AbstractMessageWriter, Disposable, type DataCallback, type Message, type MessageReader, type MessageWriter } from 'vscode-languageserver/node';

class MemoryReader extends AbstractMessageReader {
  private callback: DataCallback | undefined;
  private readonly backlog: Message[] = [];

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    for (const message of this.backlog.splice(0)) callback(message);
    return Disposable.create(() => {
      this.callback = undefined;
    });
  }

  deliver(message: Message): void {
    if (this.callback === undefined) this.backlog.push(message);
    else this.callback(message);
  }

  close(): void {
    this.fireClose();
  }
}

class MemoryWriter extends AbstractMessageWriter {
  private closed = false;

  constructor(private readonly peer: MemoryReader) {
    super();
  }

  write(message: Message): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The in-memory link is closed.'));
    queueMicrotask(() => this.peer.deliver(message));
    return Promise.resolve();
  }

  end(): void {
    this.closed = true;
    this.peer.close();
  }
}

export interface Endpoint {
  reader: MessageReader;
  writer: MessageWriter;
}

/** Two endpoints: what one writes, the other reads. */
export function memoryLink(): [Endpoint, Endpoint] {
  const readerA = new MemoryReader();
  const readerB = new MemoryReader();
  return [
    { reader: readerA, writer: new MemoryWriter(readerB) },
    { reader: readerB, writer: new MemoryWriter(readerA) },
  ];
}
