import { createSocket, Socket } from 'node:dgram';
import { tableForSuite } from '../support/dynamodb';
import { testManager } from '../support/manager';

/** A statsd server: collects the UDP packets hot-shots sends. */
async function statsdListener(): Promise<{ socket: Socket; port: number; lines: string[] }> {
  const socket = createSocket('udp4');
  const lines: string[] = [];
  socket.on('message', (m) => lines.push(...m.toString().split('\n').filter(Boolean)));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, lines };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('statsd metrics (hot-shots) on DynamoDB Local', () => {
  const suite = tableForSuite();

  it('sends load/commit timers, item size and counters with the configured prefix', async () => {
    const statsd = await statsdListener();
    try {
      const t = testManager({ statsd: { host: '127.0.0.1', port: statsd.port, prefix: 'shop.session.' } }, suite.store);
      await t.run((s) => void (s['cart'] = ['tea'])); // created
      await t.run((s) => void (s['cart'] = ['tea', 'scones'])); // saved
      t.setCookie('forged-cookie');
      await t.run(() => undefined); // invalid cookie
      await until(() => statsd.lines.some((l) => l.startsWith('shop.session.invalid_cookie')));
      const names = new Set(statsd.lines.map((l) => l.split(':')[0]));
      expect([...names].sort()).toEqual(expect.arrayContaining([
        'shop.session.load', 'shop.session.commit', 'shop.session.item_size_bytes',
        'shop.session.created', 'shop.session.saved', 'shop.session.invalid_cookie',
      ]));
      expect(statsd.lines.find((l) => l.startsWith('shop.session.load:'))).toMatch(/^shop\.session\.load:[\d.]+\|ms$/);
      expect(statsd.lines.find((l) => l.startsWith('shop.session.item_size_bytes:'))).toMatch(/^shop\.session\.item_size_bytes:\d+\|h$/);
      expect(statsd.lines.filter((l) => l.startsWith('shop.session.created:'))).toEqual(['shop.session.created:1|c']);
    } finally {
      statsd.socket.close();
    }
  });

  it('sends nothing when statsd is not configured', async () => {
    const statsd = await statsdListener();
    try {
      const t = testManager({}, suite.store);
      expect(t.manager.options.metrics).toBeUndefined();
      await t.run((s) => void (s['cart'] = ['tea']));
      await new Promise((r) => setTimeout(r, 100));
      expect(statsd.lines).toEqual([]);
    } finally {
      statsd.socket.close();
    }
  });
});
