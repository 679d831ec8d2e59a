export { runCli } from './run-cli';
export type { CliOutput } from './cli-output';
