#!/usr/bin/env node
// Hand-made mutants of the critical checks in lib/core and lib/store: each one
// breaks a single safety rule the way a careless edit would. The script copies
// the tracked tree to a scratch folder (the working tree is never touched),
// applies one mutant at a time, runs the specs that should notice, and reports
// which mutants survived. Not a test: `npm run mutants` (it takes minutes).
//
//   node tools/mutants.mjs                 all mutants
//   node tools/mutants.mjs guard-reject    only mutants whose id contains the word
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mutants } from './mutants.list.mjs';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv[2];
// MUTANT_SPECS=<pattern> runs only those specs against every chosen mutant (e.g. to show what the model-based suite alone catches).
const override = process.env.MUTANT_SPECS ? process.env.MUTANT_SPECS.split(',') : undefined;
const chosen = mutants.filter((m) => !only || m.id.includes(only)).map((m) => (override ? { ...m, specs: override } : m));

const scratch = mkdtempSync(join(tmpdir(), 'mutants-'));
for (const file of execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean)) {
  mkdirSync(dirname(join(scratch, file)), { recursive: true });
  cpSync(join(root, file), join(scratch, file));
}
symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));

// The unmutated tree must pass the same specs, or a "killed" would mean nothing.
for (const specs of new Set(chosen.map((m) => JSON.stringify(m.specs)))) {
  const run = spawnSync('npx', ['jest', '--silent', ...JSON.parse(specs)], { cwd: scratch, encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(`the unmutated tree fails ${specs}:\n${run.stdout}\n${run.stderr}`);
    process.exit(2);
  }
}

const results = [];
for (const mutant of chosen) {
  const path = join(scratch, mutant.file);
  const original = readFileSync(path, 'utf8');
  const at = original.indexOf(mutant.find);
  if (at === -1 || original.indexOf(mutant.find, at + 1) !== -1) {
    results.push({ ...mutant, outcome: 'stale (the text to mutate is not there exactly once)' });
    continue;
  }
  writeFileSync(path, original.slice(0, at) + mutant.replace + original.slice(at + mutant.find.length));
  const started = Date.now();
  const run = spawnSync('npx', ['jest', '--bail', ...mutant.specs], { cwd: scratch, encoding: 'utf8' });
  writeFileSync(path, original);
  const output = `${run.stdout}\n${run.stderr}`;
  const failed = /Tests:.*\d+ failed/.test(output) || /Test Suites:.*\d+ failed/.test(output);
  const seed = /seed[:=]? ?(-?\d+)/i.exec(output)?.[1];
  if (failed && process.env.MUTANT_LOG) writeFileSync(`${process.env.MUTANT_LOG}/${mutant.id.replace(/\//g, '_')}.log`, output);
  results.push({ ...mutant, outcome: failed ? 'killed' : run.status === 0 ? 'SURVIVED' : `error (exit ${run.status})`, seconds: Math.round((Date.now() - started) / 1000), seed });
  console.log(`${failed ? 'killed  ' : 'SURVIVED'} ${mutant.id} (${Math.round((Date.now() - started) / 1000)} s)${seed ? ` seed ${seed}` : ''}`);
}
rmSync(scratch, { recursive: true, force: true });

const killed = results.filter((r) => r.outcome === 'killed').length;
const valid = results.filter((r) => r.outcome === 'killed' || r.outcome === 'SURVIVED').length;
console.log(`\n${killed} of ${valid} mutants killed (${valid === 0 ? 0 : Math.round((100 * killed) / valid)} %)`);
for (const r of results.filter((r) => r.outcome !== 'killed')) console.log(`- ${r.outcome}: ${r.id} — ${r.why}`);
process.exitCode = killed === valid ? 0 : 1;
