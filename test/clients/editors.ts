/**
 * Editor tests run the real editors headless. Where an editor is missing they
 * are skipped on a developer's machine, and fail under
 * EFRIT_REQUIRE_EDITORS=1 (CI), so a missing install step cannot pass as green.
 */
import { execFileSync } from 'node:child_process';

export function editorAvailable(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when the tests for `command` should run; throws when CI requires the editor and it is missing. */
export function shouldRunEditorTests(command: string): boolean {
  const available = editorAvailable(command);
  if (!available && process.env['EFRIT_REQUIRE_EDITORS'] === '1') {
    throw new Error(`${command} is not installed, and EFRIT_REQUIRE_EDITORS=1 requires it (see .ci/run)`);
  }
  return available;
}
