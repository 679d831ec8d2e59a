import { createHmac, timingSafeEqual } from 'node:crypto';
import { isWellFormedSessionId, SESSION_ID_LENGTH } from './ids';

const MAC_LENGTH = 43; // HMAC-SHA256, base64url without padding
/** Length of a signed id, `<id>.<hmac>`. */
export const SIGNED_LENGTH = SESSION_ID_LENGTH + 1 + MAC_LENGTH;

export interface VerifiedId {
  readonly id: string;
  /** True when an older secret verified it: the caller re-issues it signed with the newest. */
  readonly signedWithOldSecret: boolean;
}

/** Signs ids as `<id>.<hmac>`; the first secret signs, every secret verifies. */
export class IdSigner {
  private readonly secrets: readonly Buffer[];

  constructor(secrets: readonly string[]) {
    this.secrets = secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  sign(id: string): string {
    return `${id}.${this.mac(id, this.secrets[0]!)}`;
  }

  /** Length and format are checked before any HMAC is computed; the comparison is constant-time. */
  verify(value: string | undefined): VerifiedId | undefined {
    if (value === undefined || value.length !== SIGNED_LENGTH || value[SESSION_ID_LENGTH] !== '.') {
      return undefined;
    }
    const id = value.slice(0, SESSION_ID_LENGTH);
    const given = value.slice(SESSION_ID_LENGTH + 1);
    if (!isWellFormedSessionId(id) || !isWellFormedSessionId(given)) return undefined;
    const givenBytes = Buffer.from(given, 'utf8');
    for (let i = 0; i < this.secrets.length; i++) {
      const expected = Buffer.from(this.mac(id, this.secrets[i]!), 'utf8');
      if (timingSafeEqual(expected, givenBytes)) return { id, signedWithOldSecret: i > 0 };
    }
    return undefined;
  }

  private mac(id: string, secret: Buffer): string {
    return createHmac('sha256', secret).update(id).digest('base64url');
  }
}
