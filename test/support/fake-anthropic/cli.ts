/**
 * Runs the fake Messages API standalone, for the offline demo and the
 * benchmarks: `node dist/test/support/fake-anthropic/cli.js --port N
 * [--latency-ms A-B] [--api-key K]`. Replies come from the rule-based
 * default responder. Prints one line once it listens, then serves until
 * SIGINT/SIGTERM.
 */
import { parseCliArguments } from './cli-arguments.js';
import { startFakeAnthropic } from './server.js';

async function main(): Promise<void> {
  const fake = await startFakeAnthropic(parseCliArguments(process.argv.slice(2)));
  // The one line callers wait for to learn the port.
  console.log(`fake-anthropic listening on ${fake.url}`);
  const shutdown = (): void => {
    void fake.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
