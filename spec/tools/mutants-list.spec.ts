/**
 * `npm run mutants` applies each mutant by finding its text in the source: a mutant whose text moved away is
 * reported "stale" and silently counts for nothing. This keeps the list pointing at the code it breaks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mutant {
  readonly id: string;
  readonly file: string;
  readonly find: string;
}

const root = join(__dirname, '..', '..');
// The list is an ES module for the script; jest here runs CommonJS, so a child node reads it.
const mutants = JSON.parse(execFileSync(process.execPath, [
  '--input-type=module', '-e', "import { mutants } from './tools/mutants.list.mjs'; console.log(JSON.stringify(mutants.map(({ id, file, find }) => ({ id, file, find }))));",
], { cwd: root, encoding: 'utf8' })) as Mutant[];

describe('the mutants list', () => {
  it('has mutants, each with an id of its own', () => {
    expect(mutants.length).toBeGreaterThan(50);
    expect(new Set(mutants.map((m) => m.id)).size).toBe(mutants.length);
  });

  it.each(mutants.map((m) => [m.id, m] as const))('%s finds its text exactly once', (_id, mutant) => {
    const source = readFileSync(join(root, mutant.file), 'utf8');
    expect(source.split(mutant.find).length - 1).toBe(1);
  });
});
