/** A hash of a directory tree, to show that something left it byte-identical. */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** A hash of everything in the tree: names, kinds, modes, contents and link targets. */
export async function treeHash(root: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = (await readdir(dir)).sort();
    for (const name of entries) {
      const path = join(dir, name);
      const info = await lstat(path);
      hash.update(`${prefix}${name} ${info.mode} `);
      if (info.isSymbolicLink()) hash.update(`-> ${await readlink(path)}\n`);
      else if (info.isDirectory()) await walk(path, `${prefix}${name}/`);
      else hash.update(await readFile(path)).update('\n');
    }
  };
  await walk(root, '');
  return hash.digest('hex');
}
