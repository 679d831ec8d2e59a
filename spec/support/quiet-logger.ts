import type { Logger } from '../../lib';

/** For specs that provoke failures on purpose: keeps expected warnings out of the test output. */
export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
