import { parse, serialize } from 'cookie';
import type { ResolvedCookieOptions } from './options';

export type HeaderList = Array<[name: string, value: string]>;
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** How the signed id travels: in a cookie (browsers) or in a header (API clients). Never in a URL or body. */
export interface IdTransport {
  read(headers: RequestHeaders): string | undefined;
  /** `maxAge` (seconds) overrides the configured cookie lifetime, for sessions with their own idle timeout. */
  issue(signedId: string, secureRequest: boolean, maxAge?: number): HeaderList;
  clear(secureRequest: boolean): HeaderList;
}

// A response carrying a session id must not be cached by the browser or a shared proxy.
const NO_STORE: [string, string] = ['Cache-Control', 'no-store'];

export class CookieTransport implements IdTransport {
  constructor(private readonly options: ResolvedCookieOptions) {}

  read(headers: RequestHeaders): string | undefined {
    const header = headers['cookie'];
    if (typeof header !== 'string') return undefined;
    // The first cookie of the name wins, as browsers send the most specific path first.
    return parse(header)[this.options.name];
  }

  issue(signedId: string, secureRequest: boolean, maxAge?: number): HeaderList {
    return [['Set-Cookie', this.serialize(signedId, secureRequest, maxAge ?? this.options.maxAge)], NO_STORE];
  }

  clear(secureRequest: boolean): HeaderList {
    return [['Set-Cookie', this.serialize('', secureRequest, 0)], NO_STORE];
  }

  private serialize(value: string, secureRequest: boolean, maxAge: number | undefined): string {
    const o = this.options;
    return serialize(o.name, value, {
      httpOnly: o.httpOnly,
      secure: o.secure === 'auto' ? secureRequest : o.secure,
      sameSite: o.sameSite,
      path: o.path,
      ...(o.domain !== undefined && { domain: o.domain }),
      ...(maxAge !== undefined && { maxAge }),
      ...(maxAge === 0 && { expires: new Date(0) }),
    });
  }
}

export class HeaderTransport implements IdTransport {
  /** `name` is lower-case, as Node presents request headers. */
  constructor(private readonly name: string) {}

  read(headers: RequestHeaders): string | undefined {
    const value = headers[this.name];
    return Array.isArray(value) ? value[0] : value;
  }

  issue(signedId: string): HeaderList {
    return [[this.name, signedId], NO_STORE];
  }

  clear(): HeaderList {
    return [[this.name, ''], NO_STORE];
  }
}
