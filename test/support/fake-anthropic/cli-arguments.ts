/** Argument parsing for `cli.ts`, apart from it so tests can import it without starting a server. */
import type { FakeAnthropicOptions } from './types.js';

export const CLI_USAGE = 'usage: fake-anthropic --port N [--latency-ms A-B | --latency-ms N] [--api-key KEY]';

function parseNonNegativeInteger(flag: string, text: string): number {
  if (!/^\d+$/u.test(text)) throw new Error(`${flag} expects a non-negative integer, got '${text}'\n${CLI_USAGE}`);
  return Number(text);
}

/** Turns argv (without `node` and the script) into server options; throws with the usage line on nonsense. */
export function parseCliArguments(argv: readonly string[]): FakeAnthropicOptions {
  const options: FakeAnthropicOptions = {};
  for (let position = 0; position < argv.length; position += 1) {
    const flag = argv[position];
    const value = argv[position + 1];
    if (value === undefined) throw new Error(`${flag ?? ''} needs a value\n${CLI_USAGE}`);
    position += 1;
    switch (flag) {
      case '--port':
        options.port = parseNonNegativeInteger(flag, value);
        break;
      case '--latency-ms': {
        const [low, high, ...rest] = value.split('-');
        if (low === undefined || rest.length > 0) throw new Error(`--latency-ms expects N or A-B, got '${value}'\n${CLI_USAGE}`);
        const lowMs = parseNonNegativeInteger(flag, low);
        const highMs = high === undefined ? lowMs : parseNonNegativeInteger(flag, high);
        if (highMs < lowMs) throw new Error(`--latency-ms range is reversed: '${value}'\n${CLI_USAGE}`);
        options.latencyMs = highMs === lowMs ? lowMs : [lowMs, highMs];
        break;
      }
      case '--api-key':
        options.apiKey = value;
        break;
      default:
        throw new Error(`unknown option '${flag ?? ''}'\n${CLI_USAGE}`);
    }
  }
  return options;
}
