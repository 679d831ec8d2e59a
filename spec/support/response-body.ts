/**
 * supertest types a response body as `any`, which silently switches off type
 * checking of every expression it reaches; specs read it as a JSON object.
 */
export function bodyOf(res: { body: unknown }): Record<string, unknown> {
  return res.body as Record<string, unknown>;
}

/** The `data` a test route echoes back: the session's attributes. */
export function dataOf(res: { body: unknown }): Record<string, unknown> {
  return bodyOf(res)['data'] as Record<string, unknown>;
}
