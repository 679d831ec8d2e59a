import { request } from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** Every response header line, for checks that nothing was reflected. */
  readonly rawHeaders: string;
  readonly setCookies: readonly string[];
}

/**
 * One request with headers sent exactly as given, repeats and byte values
 * included (a latin1 string carries UTF-8 bytes through unchanged): what a
 * hostile client can send, which fetch and supertest normalise away.
 */
export function rawRequest(url: string, method: string, path: string, headers: ReadonlyArray<readonly [string, string]> = []): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      // A raw header list gets no defaults from Node: Host and an empty body's length are ours to send.
      { host: target.hostname, port: target.port, method, path, headers: [['Host', target.host], ['Content-Length', '0'], ...headers].flat(), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const setCookie = res.headers['set-cookie'] ?? [];
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            rawHeaders: res.rawHeaders.join('\n'),
            setCookies: setCookie,
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
