// Who a request comes from, as established by the `authenticate` middleware and checked by
// `authorize` and the routes. Admin credentials may call every route; an ingest key only reports
// status for the endpoints of its company (and site, when it has one).
import type { Owner } from '#core/endpoint.ts';

export type Principal =
  | { readonly kind: 'admin' }
  /** The status page's session cookie: read routes only; `csrf` when the request proved it too. */
  | { readonly kind: 'session'; readonly csrf: boolean }
  | {
      readonly kind: 'ingest';
      readonly keyId: string;
      readonly companyId: string;
      readonly siteId?: string;
    };

/** The company (and site) an ingest key confines writes to; undefined for admin. */
export function ownerOf(principal: Principal): Owner | undefined {
  if (principal.kind !== 'ingest') return undefined;
  return principal.siteId === undefined
    ? { companyId: principal.companyId }
    : { companyId: principal.companyId, siteId: principal.siteId };
}
