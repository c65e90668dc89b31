/**
 * A gate a test opens when it is ready: the way to keep a model call (or any
 * step) waiting for exactly as long as a test needs, instead of a latency
 * guessed long enough, which a loaded machine can outrun.
 *
 *   const reply = gate();
 *   fake.queueReplies({ text: 'Done.', hold: { until: reply.opened } });
 *   … the server is seen waiting: assert what must hold meanwhile …
 *   reply.open();
 */
export interface Gate {
  /** Settles when `open` is called. */
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** A gate that is never opened: a reply that stays pending until the client gives up or the fake closes. */
export const never: Promise<void> = new Promise<void>(() => undefined);
