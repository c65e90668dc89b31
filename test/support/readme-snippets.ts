/**
 * The server commands README.md's snippets give editors, read out of its
 * fenced code blocks the way each editor reads them: a quoted list after
 * `server-command` in Emacs Lisp, `cmd = { … }` in Lua, `command` and `args`
 * in Helix's TOML, and shell lines that run `efrit-lsp --stdio`.
 */

export interface ReadmeCommand {
  /** Where it came from: the block's language, its line in the README, and the command. */
  source: string;
  argv: string[];
  /** Variables a shell line sets before the command (`EFRIT_OFFLINE=1 efrit-lsp --stdio`). */
  env: Record<string, string>;
}

interface CodeBlock {
  language: string;
  line: number;
  text: string;
}

function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const opening = /^```(\w*)\s*$/.exec(lines[index] ?? '');
    if (opening === null) continue;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) body.push(lines[end++] ?? '');
    blocks.push({ language: opening[1] ?? '', line: index + 1, text: body.join('\n') });
    index = end;
  }
  return blocks;
}

function named(language: string, block: CodeBlock, argv: string[], env: Record<string, string> = {}): ReadmeCommand {
  const shownEnv = Object.entries(env).map(([key, value]) => `${key}=${value} `).join('');
  return { source: `${language} (README line ${block.line}): ${shownEnv}${argv.join(' ')}`, argv, env };
}

function quotedStrings(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'/g)].map((match) => match[1] ?? match[2] ?? '');
}

function elispCommands(block: CodeBlock): ReadmeCommand[] {
  return [...block.text.matchAll(/server-command\s+'\(([^)]*)\)/g)].map((match) => named('elisp', block, quotedStrings(match[1] ?? '')));
}

function luaCommands(block: CodeBlock): ReadmeCommand[] {
  return [...block.text.matchAll(/\bcmd\s*=\s*\{([^}]*)\}/g)].map((match) => named('lua', block, quotedStrings(match[1] ?? '')));
}

function tomlCommands(block: CodeBlock): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const section of block.text.split(/^\[/m)) {
    const command = /^command\s*=\s*"([^"]*)"/m.exec(section);
    if (command === null) continue;
    const args = /^args\s*=\s*\[([^\]]*)\]/m.exec(section);
    commands.push(named('toml', block, [command[1] ?? '', ...quotedStrings(args?.[1] ?? '')]));
  }
  return commands;
}

function shellCommands(block: CodeBlock): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const raw of block.text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const match = /^((?:[A-Z_]+=\S+\s+)*)(efrit-lsp|\S*\/efrit-lsp)\s+(.*--stdio.*)$/.exec(line);
    if (match === null) continue;
    const env = Object.fromEntries((match[1] ?? '').trim().split(/\s+/).filter((word) => word !== '').map((word) => word.split('=') as [string, string]));
    commands.push(named('sh', block, [match[2] ?? '', ...(match[3] ?? '').trim().split(/\s+/)], env));
  }
  return commands;
}

/** The README's blocks in one language (`elisp`, `lua`, …), each as written. */
export function readmeBlocks(markdown: string, language: string): string[] {
  return codeBlocks(markdown)
    .filter((block) => block.language === language)
    .map((block) => block.text);
}

/** Every command README's code blocks start the server with. */
export function readmeServerCommands(markdown: string): ReadmeCommand[] {
  return codeBlocks(markdown).flatMap((block) => {
    switch (block.language) {
      case 'elisp':
      case 'emacs-lisp':
        return elispCommands(block);
      case 'lua':
        return luaCommands(block);
      case 'toml':
        return tomlCommands(block);
      case 'sh':
      case 'bash':
      case 'shell':
        return shellCommands(block);
      default:
        return [];
    }
  });
}
