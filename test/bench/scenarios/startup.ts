/**
 * startup — how soon an editor gets its answer to `initialize`, from process
 * start, against `node -e ""` started the same way in the same run (Node's
 * own start-up, which no server can beat): the difference is ours. Also the
 * same bundle without its code cache (`EFRIT_CODE_CACHE=off`), and the server
 * unbundled (tsc's output, one module a file), to show what each buys. Runs
 * alternate, so the machine's noise hits all alike.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProtocolConnection, InitializeRequest, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node';
import { repoRoot, serverEntry, vscodeCapabilities } from '../../support/lsp-client.js';
import { fixed, median, verdict, type Scenario, type ScenarioContext } from '../scenario.js';

const unbundledEntry = join(repoRoot, 'dist', 'server', 'src', 'cli.js');

/** CPU milliseconds every thread of a live process has used so far; undefined where Linux's /proc is not there. */
function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    let nanoseconds = 0;
    for (const thread of readdirSync(`/proc/${pid}/task`)) nanoseconds += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
    return nanoseconds / 1e6;
  } catch {
    return undefined;
  }
}

/** CPU milliseconds Node takes to start and run a script's first line (the floor of the CPU column). */
function nodeCpuBaseline(): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', "process.stdout.write('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', reject);
    child.stdout.once('data', () => {
      resolve(cpuMsOf(child.pid));
      child.kill();
    });
  });
}

/** Milliseconds from spawn until `node -e ""` exits. */
function nodeBaseline(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - started));
  });
}

/** Milliseconds from spawn until the server's answer to `initialize`, and the CPU milliseconds it had used by then. */
async function initializeTime(entry: string, extraEnv: Record<string, string> = {}): Promise<{ ms: number; cpuMs: number | undefined }> {
  const env = { ...process.env, ...extraEnv };
  delete env['ANTHROPIC_API_KEY'];
  const started = performance.now();
  const child = spawn(process.execPath, [entry, '--stdio'], { stdio: 'pipe', env });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    await connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: vscodeCapabilities });
    const ms = performance.now() - started;
    return { ms, cpuMs: cpuMsOf(child.pid) };
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
    const cpu = { node: [] as number[], bundle: [] as number[], uncached: [] as number[], unbundled: [] as number[] };
    const keep = (into: number[], cpuInto: number[], sample: { ms: number; cpuMs: number | undefined }): void => {
      into.push(sample.ms);
      if (sample.cpuMs !== undefined) cpuInto.push(sample.cpuMs);
    };
    for (let round = 0; round < rounds; round++) {
      samples.node.push(await nodeBaseline());
      const nodeCpu = await nodeCpuBaseline();
      if (nodeCpu !== undefined) cpu.node.push(nodeCpu);
      keep(samples.bundle, cpu.bundle, await initializeTime(serverEntry));
      keep(samples.uncached, cpu.uncached, await initializeTime(serverEntry, { EFRIT_CODE_CACHE: 'off' }));
      keep(samples.unbundled, cpu.unbundled, await initializeTime(unbundledEntry));
      context.progress(`round ${round + 1}/${rounds}`);
    }
    const cpuMedian = (values: number[]): string => (values.length === 0 ? 'n/a' : fixed(median(values)));
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
          columns: [
            { header: 'what', align: 'left' },
            { header: 'median' },
            { header: 'min' },
            { header: 'max' },
            { header: 'CPU median' },
            { header: 'goal' },
            { header: 'met?', align: 'left' },
          ],
          rows: [
            ['node -e "" (spawn → exit): the floor', fixed(node), fixed(Math.min(...samples.node)), fixed(Math.max(...samples.node)), cpuMedian(cpu.node), '', ''],
            ['efrit-lsp, bundled, from the code cache (what ships)', fixed(bundle), fixed(Math.min(...samples.bundle)), fixed(Math.max(...samples.bundle)), cpuMedian(cpu.bundle), `< ${goalMs}`, verdict(bundle < goalMs)],
            ['efrit-lsp, bundled, code cache off', fixed(uncached), fixed(Math.min(...samples.uncached)), fixed(Math.max(...samples.uncached)), cpuMedian(cpu.uncached), '', ''],
            ['efrit-lsp, unbundled (tsc output)', fixed(unbundled), fixed(Math.min(...samples.unbundled)), fixed(Math.max(...samples.unbundled)), cpuMedian(cpu.unbundled), '', ''],
            ['ours: bundled − node -e ""', fixed(ours), '', '', cpu.node.length === 0 || cpu.bundle.length === 0 ? '' : fixed(median(cpu.bundle) - median(cpu.node)), '', ''],
            ['what the code cache saves: cache off − from the cache', fixed(uncached - bundle), '', '', '', '', ''],
            ['what the bundle saves: unbundled − bundled (cache off)', fixed(unbundled - uncached), '', '', '', '', ''],
          ],
          notes: [
            'The Anthropic SDK is not loaded at start: the model client loads it on the first model call.',
            'The code cache is V8 bytecode the build made by starting the server once (dist/efrit-lsp-server.<build>.cache); the bin runs the bundle with it through vm.Script.',
            "CPU = milliseconds of CPU every thread of the process had used when the answer arrived (node -e: when its first line ran); on a busy machine it still compares builds where the wall clock does not.",
          ],
        },
      ],
      summary: { nodeMs: node, bundledMs: bundle, uncachedMs: uncached, unbundledMs: unbundled, oursMs: ours, nodeCpuMs: cpu.node.length === 0 ? undefined : median(cpu.node), bundledCpuMs: cpu.bundle.length === 0 ? undefined : median(cpu.bundle) },
      raw: { ...samples, cpu },
      goals: [{ name: 'initialize from process start (bundled)', goal: `< ${goalMs} ms`, actual: `${fixed(bundle)} ms (node -e "" ${fixed(node)} ms)`, met: bundle < goalMs }],
    };
  },
};
