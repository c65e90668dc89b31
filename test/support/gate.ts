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

/**
 * Gates by name, each made on first mention, for a party that can only name
 * them: an editor script that says on stderr it has seen a state (see
 * test/clients/script-signals.ts). Asking for a gate before or after it
 * was opened gives the same promise, so the order of the two does not matter.
 */
export interface NamedGates {
  /** Settles once `open(name)` has been called. */
  opened(name: string): Promise<void>;
  open(name: string): void;
  /** The names opened so far, in order: what to show when a test fails. */
  readonly openedNames: readonly string[];
}

export function namedGates(): NamedGates {
  const gates = new Map<string, Gate>();
  const openedNames: string[] = [];
  const named = (name: string): Gate => {
    let found = gates.get(name);
    if (found === undefined) {
      found = gate();
      gates.set(name, found);
    }
    return found;
  };
  return {
    opened: (name) => named(name).opened,
    open(name) {
      if (!openedNames.includes(name)) openedNames.push(name);
      named(name).open();
    },
    openedNames,
  };
}
