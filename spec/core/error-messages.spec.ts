import { SessionConfigError, SessionUnreadableError, TableNotFoundError } from '../../lib';

/**
 * Error texts are part of the interface: they name the fix, and they never
 * print a placeholder phrase where a value belongs (a command to copy must
 * work as printed).
 */
describe('TableNotFoundError names the table and the command that creates it', () => {
  it.each<[string, string | undefined, string | undefined, string]>([
    [
      'region known',
      'eu-west-1',
      undefined,
      'DynamoDB table "sessions" does not exist in region eu-west-1. ' +
        'Create it with: npx dynamo-session create-table --table sessions --region eu-west-1 (or construct the store with createIfNotExist: true).',
    ],
    [
      'region and a local endpoint',
      'us-east-1',
      'http://127.0.0.1:8000',
      'DynamoDB table "sessions" does not exist in region us-east-1 at http://127.0.0.1:8000. ' +
        'Create it with: npx dynamo-session create-table --table sessions --region us-east-1 --endpoint http://127.0.0.1:8000 ' +
        '(or construct the store with createIfNotExist: true).',
    ],
    [
      'region unknown: none is guessed',
      undefined,
      undefined,
      'DynamoDB table "sessions" does not exist. ' +
        'Create it with: npx dynamo-session create-table --table sessions (or construct the store with createIfNotExist: true).',
    ],
  ])('%s', (_name, region, endpoint, message) => {
    const error = new TableNotFoundError('sessions', region, endpoint === undefined ? undefined : { endpoint });
    expect(error.message).toBe(message);
    expect(error.status).toBe(503);
    expect(error.region).toBe(region);
  });
});

describe('SessionUnreadableError is about reading, names the attribute and the way out, and no value', () => {
  it('pins the text', () => {
    const error = new SessionUnreadableError('cart', 'holds stored text that is not JSON');
    expect(error.message).toBe(
      'The stored session could not be read: attribute "cart" holds stored text that is not JSON. ' +
        'End it with destroy() without loading it first (Koa: ctx.sessionContext.destroy(); Nest: sessionValve.context(req).destroy()), or let it expire.',
    );
    expect(error.status).toBe(422);
    expect(error.expose).toBe(true);
    expect(error.attribute).toBe('cart');
    expect(error.message).not.toMatch(/cannot be stored/);
  });
});

describe('no error text prints a placeholder phrase as a value', () => {
  const PLACEHOLDERS = /\b(the default region|undefined|null|\[object Object\]|NaN)\b/;

  it.each<[string, Error]>([
    ['TableNotFoundError without a region', new TableNotFoundError('t', undefined)],
    ['TableNotFoundError with a region', new TableNotFoundError('t', 'us-east-1')],
    ['SessionConfigError', new SessionConfigError(['secrets must be given'])],
    ['SessionUnreadableError', new SessionUnreadableError('cart', 'would inflate past maxSessionBytes (10000 bytes)')],
  ])('%s', (_name, error) => {
    expect(error.message).not.toMatch(PLACEHOLDERS);
  });
});
