// The HTTP route table, shared by both API functions, the CDK api construct and the local server, so
// routing (and 404 / 405) and who may call what are decided the same way everywhere.

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** `ingest` takes status reports only; `admin` serves every other route (and 404 / 405). */
export type ApiFunction = 'ingest' | 'admin';
/** Who may call a route: admin credentials only, or also an ingest key (admin may call every route). */
export type Access = 'admin' | 'ingest';

export interface RouteSpec {
  readonly name: RouteName;
  readonly method: Method;
  /** API Gateway route path with `{param}` segments. */
  readonly path: string;
  readonly fn: ApiFunction;
  readonly access: Access;
  /** Parameters that take only these values: any other is no route (404, before the body is read). */
  readonly only?: Readonly<Record<string, readonly string[]>>;
  /** `end`: a session cookie (with its CSRF token) may call this write route, to sign out. */
  readonly session?: 'end';
}

/** The RMM webhook shapes `POST /v1/webhooks/{integration}` maps (functions/ingest/webhooks.ts). */
export const WEBHOOK_INTEGRATIONS = ['generic'] as const;

export type RouteName =
  | 'postStatus'
  | 'postWebhook'
  | 'createKey'
  | 'listKeys'
  | 'revokeKey'
  | 'putCompany'
  | 'putSite'
  | 'getEndpoint'
  | 'listGroups'
  | 'getGroup'
  | 'putGroup'
  | 'deleteGroup'
  | 'listMembers'
  | 'listTransitions'
  | 'listCompanies'
  | 'listCompanyEndpoints'
  | 'createSession'
  | 'endSession'
  | 'listFields'
  | 'putField'
  | 'deleteField'
  | 'postImport'
  | 'lintGroup'
  | 'previewGroup';

export const ROUTES: readonly RouteSpec[] = [
  { name: 'postStatus', method: 'POST', path: '/v1/endpoints/status', fn: 'ingest', access: 'ingest' },
  {
    name: 'postWebhook',
    method: 'POST',
    path: '/v1/webhooks/{integration}',
    fn: 'ingest',
    access: 'ingest',
    only: { integration: WEBHOOK_INTEGRATIONS },
  },
  { name: 'putCompany', method: 'PUT', path: '/v1/companies/{companyId}', fn: 'admin', access: 'admin' },
  {
    name: 'putSite',
    method: 'PUT',
    path: '/v1/companies/{companyId}/sites/{siteId}',
    fn: 'admin',
    access: 'admin',
  },
  { name: 'createKey', method: 'POST', path: '/v1/companies/{companyId}/keys', fn: 'admin', access: 'admin' },
  { name: 'listKeys', method: 'GET', path: '/v1/companies/{companyId}/keys', fn: 'admin', access: 'admin' },
  {
    name: 'revokeKey',
    method: 'DELETE',
    path: '/v1/companies/{companyId}/keys/{keyId}',
    fn: 'admin',
    access: 'admin',
  },
  { name: 'getEndpoint', method: 'GET', path: '/v1/endpoints/{endpointId}', fn: 'admin', access: 'admin' },
  { name: 'listGroups', method: 'GET', path: '/v1/groups', fn: 'admin', access: 'admin' },
  { name: 'getGroup', method: 'GET', path: '/v1/groups/{groupId}', fn: 'admin', access: 'admin' },
  { name: 'putGroup', method: 'PUT', path: '/v1/groups/{groupId}', fn: 'admin', access: 'admin' },
  { name: 'deleteGroup', method: 'DELETE', path: '/v1/groups/{groupId}', fn: 'admin', access: 'admin' },
  {
    name: 'listMembers',
    method: 'GET',
    path: '/v1/groups/{groupId}/members',
    fn: 'admin',
    access: 'admin',
  },
  { name: 'listTransitions', method: 'GET', path: '/v1/transitions', fn: 'admin', access: 'admin' },
  // The status page (functions/admin/status-page.ts).
  { name: 'listCompanies', method: 'GET', path: '/v1/companies', fn: 'admin', access: 'admin' },
  {
    name: 'listCompanyEndpoints',
    method: 'GET',
    path: '/v1/companies/{companyId}/endpoints',
    fn: 'admin',
    access: 'admin',
  },
  { name: 'createSession', method: 'POST', path: '/v1/session', fn: 'admin', access: 'admin' },
  { name: 'endSession', method: 'DELETE', path: '/v1/session', fn: 'admin', access: 'admin', session: 'end' },
  // The field catalogue (functions/admin/fields.ts).
  ...(['listFields', 'putField', 'deleteField'] as const).map(
    (name): RouteSpec => ({
      name,
      method: name === 'listFields' ? 'GET' : name === 'putField' ? 'PUT' : 'DELETE',
      path: name === 'listFields' ? '/v1/fields' : '/v1/fields/{level}/{name}',
      fn: 'admin',
      access: 'admin',
    }),
  ),
  { name: 'postImport', method: 'POST', path: '/v1/import', fn: 'admin', access: 'admin' },
  { name: 'lintGroup', method: 'POST', path: '/v1/groups/{groupId}/lint', fn: 'admin', access: 'admin' },
  { name: 'previewGroup', method: 'POST', path: '/v1/groups/preview', fn: 'admin', access: 'admin' },
];

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: RouteSpec; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly Method[] }
  | { readonly kind: 'not-found' };

const compiled = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, names, re: new RegExp(`^${source}$`) };
});

/**
 * Matches a path. An encoded path (as sent) has its parameters decoded, and a malformed escape is not
 * found; a path API Gateway already decoded is taken as it is.
 */
export function matchRoute(method: string, rawPath: string, decoded = false): RouteMatch {
  const allow: Method[] = [];
  for (const { route, names, re } of compiled) {
    const m = re.exec(rawPath);
    if (m === null) continue;
    const params: Record<string, string> = {};
    try {
      names.forEach((name, i) => {
        params[name] = decoded ? (m[i + 1] ?? '') : decodeURIComponent(m[i + 1] ?? '');
      });
    } catch {
      return { kind: 'not-found' };
    }
    const only = route.only ?? {};
    if (Object.entries(only).some(([name, values]) => !values.includes(params[name] ?? ''))) continue;
    if (route.method !== method) {
      allow.push(route.method);
      continue;
    }
    return { kind: 'found', route, params };
  }
  return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
}
