import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const config = JSON.parse(readFileSync(join(root, 'nest-cli.json'), 'utf8')) as {
  collection?: string;
  sourceRoot?: string;
  entryFile?: string;
  compilerOptions?: { tsConfigPath?: string };
};

// `nest start` (checked by hand with @nestjs/cli 11: it builds build/sample-app/main.js and serves /health)
// reads this file; it must not promise what the repository does not have.
describe('nest-cli.json describes the sample app truthfully', () => {
  it('names a schematics collection only if it is installed', () => {
    if (config.collection !== undefined) expect(() => require.resolve(`${config.collection}/package.json`, { paths: [root] })).not.toThrow();
  });

  it('points at the sample app sources and its tsconfig', () => {
    expect(config.sourceRoot).toBe('sample-app');
    expect(existsSync(join(root, `${config.entryFile ?? 'main'}.ts`)) || existsSync(join(root, config.sourceRoot!, `${config.entryFile ?? 'main'}.ts`))).toBe(true);
    expect(existsSync(join(root, config.compilerOptions!.tsConfigPath!))).toBe(true);
  });

  it('builds where `npm start` runs it from', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const tsconfig = JSON.parse(readFileSync(join(root, config.compilerOptions!.tsConfigPath!), 'utf8')) as { compilerOptions: { outDir: string } };
    const outDir = join(root, 'sample-app', tsconfig.compilerOptions.outDir);
    expect(pkg.scripts['start']).toContain(`node ${join(outDir, `${config.entryFile!}.js`).slice(root.length + 1)}`);
  });
});
