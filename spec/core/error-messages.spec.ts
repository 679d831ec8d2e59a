import { SessionConfigError, TableNotFoundError } from '../../lib';

/**
 * Error texts are part of the interface: they name the fix, and they never
 * print a placeholder phrase where a value belongs (a command to copy must
 * work as printed).
 */
describe('TableNotFoundError names the table and the command that creates it', () => {
  it.each<[string, string | undefined, string]>([
    [
      'region known',
      'eu-west-1',
      'DynamoDB table "sessions" does not exist in region eu-west-1. ' +
        'Create it with: npx dynamo-session create-table --table sessions --region eu-west-1 (or construct the store with createIfNotExist: true).',
    ],
    [
      'region resolved by the SDK (a profile)',
      undefined,
      'DynamoDB table "sessions" does not exist in the AWS SDK\'s region (from your AWS profile; set the store\'s region to be sure). ' +
        'Create it with: npx dynamo-session create-table --table sessions (or construct the store with createIfNotExist: true).',
    ],
  ])('%s', (_name, region, message) => {
    const error = new TableNotFoundError('sessions', region);
    expect(error.message).toBe(message);
    expect(error.status).toBe(503);
    expect(error.region).toBe(region);
  });
});

describe('no error text prints a placeholder phrase as a value', () => {
  const PLACEHOLDERS = /\b(the default region|undefined|null|\[object Object\]|NaN)\b/;

  it.each<[string, Error]>([
    ['TableNotFoundError without a region', new TableNotFoundError('t', undefined)],
    ['TableNotFoundError with a region', new TableNotFoundError('t', 'us-east-1')],
    ['SessionConfigError', new SessionConfigError(['secrets must be given'])],
  ])('%s', (_name, error) => {
    expect(error.message).not.toMatch(PLACEHOLDERS);
  });
});
