// The route table of DESIGN §4: which method and path reach which route, and 404 / 405 otherwise.
import { describe, expect, it } from 'vitest';
import { matchRoute } from '#http/routes.ts';

describe('matchRoute', () => {
  it.each([
    ['POST', '/v1/endpoints/status', 'postStatus', {}],
    ['PUT', '/v1/companies/acme', 'putCompany', { companyId: 'acme' }],
    ['PUT', '/v1/companies/acme/sites/hq', 'putSite', { companyId: 'acme', siteId: 'hq' }],
    ['GET', '/v1/endpoints/LAPTOP-042', 'getEndpoint', { endpointId: 'LAPTOP-042' }],
    ['GET', '/v1/groups', 'listGroups', {}],
    ['GET', '/v1/groups/g1', 'getGroup', { groupId: 'g1' }],
    ['PUT', '/v1/groups/g1', 'putGroup', { groupId: 'g1' }],
    ['DELETE', '/v1/groups/g1', 'deleteGroup', { groupId: 'g1' }],
    ['GET', '/v1/groups/g1/members', 'listMembers', { groupId: 'g1' }],
    ['GET', '/v1/transitions', 'listTransitions', {}],
  ])('routes %s %s to %s', (method, path, name, params) => {
    const match = matchRoute(method, path);
    expect(match).toMatchObject({ kind: 'found', route: { name }, params });
  });

  it('decodes percent-encoded path parameters', () => {
    expect(matchRoute('GET', '/v1/endpoints/caf%C3%A9%2B1')).toMatchObject({
      kind: 'found',
      params: { endpointId: 'café+1' },
    });
  });

  it('does not treat "status" as an endpoint id for GET (it is an id like any other)', () => {
    // GET /v1/endpoints/status reads the endpoint called "status"; only POST is the status route.
    expect(matchRoute('GET', '/v1/endpoints/status')).toMatchObject({
      kind: 'found',
      route: { name: 'getEndpoint' },
      params: { endpointId: 'status' },
    });
  });

  it.each([
    ['GET', '/'],
    ['GET', '/v1'],
    ['GET', '/v1/endpoints'],
    ['GET', '/v1/endpoints/a/b'],
    ['GET', '/v1/groups/'],
    ['GET', '/v1/groups/g1/members/x'],
    ['POST', '/v2/endpoints/status'],
    ['GET', '/V1/groups'],
    ['PUT', '/v1/companies/acme/sites'],
    ['GET', '/v1/endpoints/bad%ZZescape'],
  ])('answers %s %s as not found', (method, path) => {
    expect(matchRoute(method, path)).toEqual({ kind: 'not-found' });
  });

  it.each([
    ['GET', '/v1/companies/acme', ['PUT']],
    ['DELETE', '/v1/companies/acme/sites/hq', ['PUT']],
    ['PATCH', '/v1/groups/g1', ['GET', 'PUT', 'DELETE']],
    ['POST', '/v1/groups', ['GET']],
    ['DELETE', '/v1/transitions', ['GET']],
    ['PUT', '/v1/endpoints/status', ['POST', 'GET']],
  ])('answers %s %s as method not allowed with Allow %j', (method, path, allow) => {
    const match = matchRoute(method, path);
    expect(match.kind).toBe('method-not-allowed');
    expect(match.kind === 'method-not-allowed' ? [...match.allow].sort() : []).toEqual([...allow].sort());
  });
});
