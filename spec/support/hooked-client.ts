import { localClient } from './dynamodb';

/** What a hook sees of a call: its operation (`UpdateItem`, `Query`, ...) and input, and a way to send it on. */
export type CallInput = { Key?: { part?: string }; UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string> };
export type CallHook = (command: string, input: CallInput, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * A client of DynamoDB Local whose calls go through `hooks.current` when set: a spec delays, fails or
 * reorders chosen calls (before the SDK's retries) while DynamoDB Local applies everything else.
 */
export function hookedClient(hooks: { current: CallHook | undefined }): ReturnType<typeof localClient> {
  const client = localClient();
  client.middlewareStack.add((next, context) => async (args) => {
    const command = String(context.commandName).replace(/Command$/, '');
    const hook = hooks.current;
    return hook ? ((await hook(command, args.input as CallInput, () => next(args))) as Awaited<ReturnType<typeof next>>) : next(args);
  }, { step: 'initialize', name: 'specHook' });
  return client;
}

/** Sent or not, the answer is lost: the SDK reports a timeout (an ambiguous outcome). */
export const lostAnswer = (): Error => Object.assign(new Error('socket hang up'), { name: 'TimeoutError', $metadata: {} });
