/**
 * Runs the fake Messages API standalone, for the demo, the benchmarks and
 * developers: `npm run fake-api -- --port N [--latency-ms A-B] [--api-key K]`
 * (`--help` prints the usage). Replies come from the rule-based default
 * responder. Prints one line once it listens, then serves until
 * SIGINT/SIGTERM.
 */
import { CLI_USAGE, parseCliArguments } from './cli-arguments.js';
import { startFakeAnthropic } from './server.js';

const CLI_HELP = `fake-anthropic — the fake Anthropic Messages API that efrit-lsp's tests, demo and benchmarks use

${CLI_USAGE}

  --port N          listen on 127.0.0.1:N (0 or left out: a free port, printed on start)
  --latency-ms N    wait N ms before each reply; A-B: a random wait between A and B ms
  --api-key KEY     answer only requests carrying KEY (default: any key)
  --help            this text

Point a server at it with ANTHROPIC_BASE_URL=http://127.0.0.1:N and any ANTHROPIC_API_KEY
(or the one given with --api-key). Its replies are canned text from a rule-based responder,
with no edits: to try efrit-lsp in an editor without a key, run efrit-lsp --stdio --offline.
`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(CLI_HELP);
    return;
  }
  const fake = await startFakeAnthropic(parseCliArguments(argv));
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
