// @ts-check
// Lint with types: a middleware that forgets an `await` commits after the
// response went out and loses the write, and only type-aware rules see that.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// bench/ resolves `dynamo-session` through its own install of the built
// package, which `npm test` does not make; `npm run bench` lints it after
// installing (LINT_BENCH=1).
const lintBench = process.env.LINT_BENCH === '1';

export default tseslint.config(
  // consumers/apps/ are type-checked by their own strict tsc during `npm run test:consumers`, against
  // node_modules that exist only in .tmp/ while it runs; the runner beside them is linted here.
  { ignores: ['dist/', 'build/', 'coverage/', '.tmp/', 'bench/build/', 'bench/node_modules/', 'consumers/apps/', ...(lintBench ? [] : ['bench/'])] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // The promise rules that guard the commit, named so that a change of
      // preset cannot drop them.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `return promise` inside try/catch skips the catch (and a commit's
      // error handling with it); outside try it is just noise.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // MemoryStore implements an async contract without I/O: `async` is what
    // turns its throws into rejections, as DynamoDbStore's are.
    files: ['lib/core/memory-store.ts'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // The sample app compiles against the built package for `npm start`, but
    // is linted (and type-checked) against the sources, like `npm test` does.
    files: ['sample-app/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // CommonJS by necessity: the bin runs without a loader, jest reads its config with require().
    files: ['bin/**/*.js', 'jest.config.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
