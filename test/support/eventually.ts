/**
 * Observing a state the test cannot be told about: `attempt` is tried until
 * it gives a value (or `timeoutMs` passes, which fails the test with `what`).
 * Between tries it pauses briefly, so an outside process (a language server
 * restarting, a file being written) gets the machine. This is the one place
 * test code waits on the wall clock, and only to look again, never to let a
 * race play out.
 */
export async function eventually<T>(attempt: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
