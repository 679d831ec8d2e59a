import { IdSigner } from '../../lib/core/signer';
import { generateSessionId, isWellFormedSessionId, storageKeyOf } from '../../lib/core/ids';
import { OLD_SECRET, SECRET } from '../support/secrets';

describe('session ids', () => {
  it('are 43 base64url characters (256 bits) and unique', () => {
    const ids = new Set(Array.from({ length: 1000 }, generateSessionId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isWellFormedSessionId(id)).toBe(true);
  });

  it('are stored as their SHA-256, never as themselves', () => {
    const id = generateSessionId();
    expect(storageKeyOf(id)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(storageKeyOf(id)).not.toBe(id);
    expect(storageKeyOf(id)).toBe(storageKeyOf(id));
  });
});

describe('IdSigner', () => {
  const signer = new IdSigner([SECRET]);
  const id = generateSessionId();

  it('round-trips a signed id', () => {
    expect(signer.verify(signer.sign(id))).toEqual({ id, signedWithOldSecret: false });
  });

  it.each([
    ['undefined', undefined],
    ['the bare id', id],
    ['a flipped signature character', (() => { const v = new IdSigner([SECRET]).sign(id); return v.slice(0, -1) + (v.endsWith('A') ? 'B' : 'A'); })()],
    ['a longer value', new IdSigner([SECRET]).sign(id) + 'A'],
    ['a wrong separator', new IdSigner([SECRET]).sign(id).replace('.', '-')],
    ['non-base64url characters', `${'!'.repeat(43)}.${'A'.repeat(43)}`],
    ['another secret', new IdSigner([OLD_SECRET]).sign(id)],
    ['a unicode value of the right length', 'é'.repeat(87)],
  ])('rejects %s', (_, value) => {
    expect(signer.verify(value)).toBeUndefined();
  });

  it('verifies with every secret and says when an older one matched', () => {
    const rotated = new IdSigner([SECRET, OLD_SECRET]);
    expect(rotated.verify(new IdSigner([OLD_SECRET]).sign(id))).toEqual({ id, signedWithOldSecret: true });
    expect(rotated.sign(id)).toBe(signer.sign(id));
  });
});
