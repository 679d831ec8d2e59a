import type { CodecSettings } from './attribute-codec';
import type { SessionEvents } from './events';
import type { HeaderList, IdTransport, RequestHeaders } from './id-transport';
import type { ResolvedSessionOptions } from './options';
import type { Serializer } from './serializer';
import type { IdSigner } from './signer';

/** What an adapter tells the core about a request. */
export interface RequestInfo {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** Header names in lower case, as Node presents them. */
  readonly headers: RequestHeaders;
  /** Whether the request came over HTTPS (after the framework's trusted-proxy rules). */
  readonly secure: boolean;
  /** The client's address after the framework's trusted-proxy rules; read only to record it (`recordClientInfo`). */
  readonly ip?: string | undefined;
}

/** Headers the adapter must add to the response. */
export interface CommitResult {
  readonly headers: HeaderList;
}

/** The manager's shared, immutable parts every request context uses. */
export interface SessionRuntime {
  readonly options: ResolvedSessionOptions;
  readonly signer: IdSigner;
  readonly transport: IdTransport;
  readonly serializer: Serializer;
  readonly events: SessionEvents;
  /** How attributes are encoded, compressed and bounded: resolved once per manager. */
  readonly codec: CodecSettings;
}
