// The routes the status page needs beyond the reference API: the per-company summary (from the
// stream-kept counters, adapters/tally-store.ts), a company's endpoints (all, or those in a group)
// with their status text, and the session sign-in / sign-out (core/session.ts).
import * as z from 'zod/mini';
import { endpointFromItem } from '#adapters/items.ts';
import type { StatusReads } from '#adapters/status-reads.ts';
import { NotFoundError } from '#core/errors.ts';
import {
  csrfOf,
  issueSession,
  SESSION_COOKIE,
  sessionCookie,
  setCookie,
  verifySession,
} from '#core/session.ts';
import { FIELD } from '#core/shipped-catalogue.ts';
import type { RouteHandler } from '#http/api.ts';
import { decodeCursor, encodeCursor } from '#http/cursor.ts';
import type { SessionCheck } from '#http/middleware/authenticate.ts';
import type { RouteName } from '#http/routes.ts';
import { Id, parseOrThrow } from '#http/validation.ts';
import type { QueryDeps } from './queries.ts';

/** The admin function accepts the page's session cookie (read routes only, authorize.ts). */
export const SESSIONS: SessionCheck = { cookie: sessionCookie, verify: verifySession, csrfOf };

export interface StatusPageDeps {
  readonly reads: QueryDeps['reads'];
  readonly tally: Pick<StatusReads, 'summary' | 'companyEndpointIds'>;
  readonly secrets: () => Promise<readonly string[]>;
  readonly nowMs: () => number;
  /** Behind API Gateway (HTTPS): the cookie is marked Secure. */
  readonly secureCookie: boolean;
}

const EndpointsQuery = z.strictObject({
  groupId: z.optional(Id),
  limit: z.optional(
    z.string().check(z.regex(/^([1-9]\d?|[1-4]\d\d|500)$/, 'must be an integer from 1 to 500')),
  ),
  cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
});
const CompanyPath = z.object({ companyId: Id });

export function statusPageRoutes(deps: StatusPageDeps): Partial<Record<RouteName, RouteHandler>> {
  return {
    listCompanies: async () => ({ status: 200, body: { companies: await deps.tally.summary() } }),

    listCompanyEndpoints: async (req) => {
      const { companyId } = parseOrThrow(CompanyPath, req.params, 'path');
      const q = parseOrThrow(EndpointsQuery, req.query, 'query');
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      const list = `company-endpoints:${companyId}:${q.groupId ?? ''}`;
      const start = decodeCursor(list, q.cursor);
      let since = new Map<string, string>();
      let page: { ids: string[]; lastKey: Record<string, unknown> | undefined };
      if (q.groupId !== undefined) {
        if ((await deps.reads.getGroup(q.groupId)) === undefined)
          throw new NotFoundError(`No group "${q.groupId}"`);
        const members = await deps.reads.members(q.groupId, companyId, limit, start);
        since = new Map(members.items.map((m) => [String(m.endpointId), String(m.since)]));
        page = { ids: members.items.map((m) => String(m.endpointId)), lastKey: members.lastKey };
      } else {
        page = await deps.tally.companyEndpointIds(companyId, limit, start);
      }
      const items = await deps.reads.endpoints(page.ids);
      const endpoints = page.ids.flatMap((id) => {
        const item = items.get(id);
        if (item === undefined) return [];
        const e = endpointFromItem(item);
        return [
          {
            endpointId: e.endpointId,
            companyId: e.companyId,
            siteId: e.siteId,
            hostname: e.hostname,
            status: e.fields[FIELD.backupStatus] ?? null,
            observedAt: e.observedAt,
            since: since.get(id) ?? (q.groupId === undefined ? null : (e.groups[q.groupId] ?? null)),
            groups: Object.keys(e.groups).sort(),
          },
        ];
      });
      return { status: 200, body: { endpoints, cursor: encodeCursor(list, page.lastKey) } };
    },

    createSession: async () => {
      const [secret] = await deps.secrets();
      if (secret === undefined) throw new Error('no admin secret');
      const session = issueSession(secret, deps.nowMs());
      return {
        status: 201,
        body: { csrf: session.csrf, expiresAt: session.expiresAt },
        headers: { 'set-cookie': setCookie(session.token, deps.secureCookie), 'cache-control': 'no-store' },
      };
    },

    endSession: async () => ({
      status: 200,
      body: { ended: true },
      headers: { 'set-cookie': `${SESSION_COOKIE}=; Path=/v1; Max-Age=0; HttpOnly; SameSite=Strict` },
    }),
  };
}
