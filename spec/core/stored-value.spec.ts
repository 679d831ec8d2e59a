import { fingerprint, fromStoredValue, storedSize, toStoredValue } from '../../lib/core/stored-value';
import { assertItemFits, MAX_ITEM_BYTES } from '../../lib/core/item-size';
import { SessionTooLargeError } from '../../lib';

describe('stored values', () => {
  it('keeps text at or under the threshold as a plain string', async () => {
    expect(await toStoredValue('"small"', 4096)).toBe('"small"');
  });

  it('gzips text over the threshold and reads it back', async () => {
    const text = JSON.stringify('x'.repeat(300_000));
    const stored = await toStoredValue(text, 4096);
    expect(stored).toBeInstanceOf(Uint8Array);
    expect(storedSize(stored)).toBeLessThan(text.length / 100);
    expect(await fromStoredValue(stored)).toBe(text);
  });

  it('compresses with brotli when asked, smaller than gzip, and reads either back whatever the current setting', async () => {
    const text = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ sku: `item-${i}`, qty: i % 7 })));
    const gzipped = await toStoredValue(text, 4096, 'gzip');
    const brotli = await toStoredValue(text, 4096, 'brotli');
    expect(storedSize(brotli)).toBeLessThan(storedSize(gzipped));
    expect(await fromStoredValue(brotli)).toBe(text);
    expect(await fromStoredValue(gzipped)).toBe(text);
    const bytes = new Uint8Array(10_000).fill(9);
    expect(await fromStoredValue(await toStoredValue(bytes, 4096, 'brotli'))).toEqual(bytes);
  });

  it('keeps text as text when gzip would make it larger', async () => {
    expect(await toStoredValue('"ab"', 1)).toBe('"ab"'); // a gzip header alone is 20 bytes
  });

  it('keeps binary encodings binary, compressed or not', async () => {
    const small = new Uint8Array([1, 2, 3]);
    expect(await fromStoredValue(await toStoredValue(small, 4096))).toEqual(small);
    const large = new Uint8Array(10_000).fill(7);
    const stored = await toStoredValue(large, 4096);
    expect(storedSize(stored)).toBeLessThan(1000);
    expect(await fromStoredValue(stored)).toEqual(large);
  });

  it('fingerprints equal encodings equally', () => {
    expect(fingerprint('{"a":1}')).toBe(fingerprint('{"a":1}'));
    expect(fingerprint('{"a":1}')).not.toBe(fingerprint('{"a":2}'));
  });
});

describe('assertItemFits', () => {
  it('accepts an item under 400 KB', () => {
    expect(() => assertItemFits(new Map([['a', 300_000]]), 512)).not.toThrow();
  });

  it('refuses an item over 400 KB naming the largest attributes', () => {
    const attempt = () => assertItemFits(new Map([['small', 10], ['photo', 300_000], ['notes', 150_000]]), 512);
    expect(attempt).toThrow(SessionTooLargeError);
    try {
      attempt();
    } catch (e) {
      const error = e as SessionTooLargeError;
      expect(error.status).toBe(413);
      expect(error.limitBytes).toBe(MAX_ITEM_BYTES);
      expect(error.largestAttributes.map((a) => a.name)).toEqual(['photo', 'notes', 'small']);
      expect(error.message).toMatch(/Largest attributes: photo \(300000 B\), notes \(150000 B\)/);
    }
  });
});
