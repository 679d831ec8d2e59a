import { existsSync } from 'node:fs';

/** Debian's Chromium (apt-get install chromium); CHROMIUM_PATH overrides. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p): p is string => p !== undefined && existsSync(p));
  if (!found && process.env['CI']) {
    throw new Error('CI needs Chromium for the browser test: .ci/run installs it with apt-get install chromium');
  }
  return found;
}

/** Flags for a headless Chromium on a machine without outside network. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
