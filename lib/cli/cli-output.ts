/** Where the CLI writes: the console for `npx dynamo-session`, a recorder in the specs. */
export interface CliOutput {
  log(line: string): void;
  error(line: string): void;
}
