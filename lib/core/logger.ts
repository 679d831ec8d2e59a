export interface Logger {
  debug(message: string, ...meta: unknown[]): void;
  info(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  error(message: string, ...meta: unknown[]): void;
}

const ignore = (): void => undefined;

/** Silent below warn, so a library never chatters in an app's logs unless asked to. */
export const defaultLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: (message, ...meta) => console.warn(`[dynamo-session] ${message}`, ...meta),
  error: (message, ...meta) => console.error(`[dynamo-session] ${message}`, ...meta),
};
