/**
 * startup — how soon an editor gets its answer to `initialize`, from process
 * start, against `node -e ""` started the same way in the same run (Node's
 * own start-up, which no server can beat): the difference is ours. Also the
 * same bundle without its code cache (`EFRIT_CODE_CACHE=off`), and the server
 * unbundled (tsc's output, one module a file), to show what each buys. Runs
 * alternate, so the machine's noise hits all alike.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createProtocolConnection, InitializeRequest, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node';
import { repoRoot, serverEntry, vscodeCapabilities } from '../../support/lsp-client.js';
import { fixed, median, verdict, type Scenario, type ScenarioContext } from '../scenario.js';

const unbundledEntry = join(repoRoot, 'dist', 'server', 'src', 'cli.js');

/** Milliseconds from spawn until `node -e ""` exits. */
function nodeBaseline(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - started));
  });
}

/** Milliseconds from spawn until the server's answer to `initialize`. */
async function initializeTime(entry: string, extraEnv: Record<string, string> = {}): Promise<number> {
  const env = { ...process.env, ...extraEnv };
  delete env['ANTHROPIC_API_KEY'];
  const started = performance.now();
  const child = spawn(process.execPath, [entry, '--stdio'], { stdio: 'pipe', env });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    await connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: vscodeCapabilities });
    return performance.now() - started;
  } finally {
    connection.dispose();
    child.kill();
  }
}

export const startupScenario: Scenario = {
  name: 'startup',
  description: 'initialize answered, from process start, against node -e "" and the unbundled server, alternating',
  async run(context: ScenarioContext) {
    const rounds = context.quick ? 6 : 20;
    const samples = { node: [] as number[], bundle: [] as number[], uncached: [] as number[], unbundled: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      samples.node.push(await nodeBaseline());
      samples.bundle.push(await initializeTime(serverEntry));
      samples.uncached.push(await initializeTime(serverEntry, { EFRIT_CODE_CACHE: 'off' }));
      samples.unbundled.push(await initializeTime(unbundledEntry));
      context.progress(`round ${round + 1}/${rounds}`);
    }
    const node = median(samples.node);
    const bundle = median(samples.bundle);
    const uncached = median(samples.uncached);
    const unbundled = median(samples.unbundled);
    const ours = bundle - node;
    const goalMs = 100;
    return {
      tables: [
        {
          title: `startup — spawn → initialize answered, medians of ${rounds} alternating rounds (ms)`,
          columns: [{ header: 'what', align: 'left' }, { header: 'median' }, { header: 'min' }, { header: 'max' }, { header: 'goal' }, { header: 'met?', align: 'left' }],
          rows: [
            ['node -e "" (spawn → exit): the floor', fixed(node), fixed(Math.min(...samples.node)), fixed(Math.max(...samples.node)), '', ''],
            ['efrit-lsp, bundled, from the code cache (what ships)', fixed(bundle), fixed(Math.min(...samples.bundle)), fixed(Math.max(...samples.bundle)), `< ${goalMs}`, verdict(bundle < goalMs)],
            ['efrit-lsp, bundled, code cache off', fixed(uncached), fixed(Math.min(...samples.uncached)), fixed(Math.max(...samples.uncached)), '', ''],
            ['efrit-lsp, unbundled (tsc output)', fixed(unbundled), fixed(Math.min(...samples.unbundled)), fixed(Math.max(...samples.unbundled)), '', ''],
            ['ours: bundled − node -e ""', fixed(ours), '', '', '', ''],
            ['what the code cache saves: cache off − from the cache', fixed(uncached - bundle), '', '', '', ''],
            ['what the bundle saves: unbundled − bundled (cache off)', fixed(unbundled - uncached), '', '', '', ''],
          ],
          notes: [
            'The Anthropic SDK is not loaded at start: the model client loads it on the first model call.',
            'The code cache is V8 bytecode the build made by starting the server once (dist/efrit-lsp-server.<build>.cache); the bin runs the bundle with it through vm.Script.',
          ],
        },
      ],
      summary: { nodeMs: node, bundledMs: bundle, uncachedMs: uncached, unbundledMs: unbundled, oursMs: ours },
      raw: samples,
      goals: [{ name: 'initialize from process start (bundled)', goal: `< ${goalMs} ms`, actual: `${fixed(bundle)} ms (node -e "" ${fixed(node)} ms)`, met: bundle < goalMs }],
    };
  },
};
