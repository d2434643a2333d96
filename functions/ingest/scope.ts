// What an ingest key may report: only endpoints of its company (and site). Checked on the request as
// a whole before anything is written; an endpoint already stored under another company is refused
// by the write itself (repository `owner` condition), without a read.
import type { Owner } from '#core/endpoint.ts';
import type { ProblemDetail } from '#core/errors.ts';
import { ForbiddenError } from '#core/errors.ts';

export function assertWithinScope(
  updates: readonly { companyId: string; siteId: string }[],
  owner: Owner | undefined,
): void {
  if (owner === undefined) return;
  const details: ProblemDetail[] = [];
  updates.forEach((u, i) => {
    if (u.companyId !== owner.companyId) {
      details.push({
        path: `updates[${i}].companyId`,
        message: `is not this key's company (${owner.companyId})`,
      });
    } else if (owner.siteId !== undefined && u.siteId !== owner.siteId) {
      details.push({ path: `updates[${i}].siteId`, message: `is not this key's site (${owner.siteId})` });
    }
  });
  if (details.length > 0) {
    throw new ForbiddenError('This key may only report endpoints of its own company and site', details);
  }
}

/** When every update was refused, nothing was written: the request as a whole is forbidden. */
export function assertNotAllForbidden(results: readonly { result: string }[]): void {
  if (results.length > 0 && results.every((r) => r.result === 'forbidden')) {
    throw new ForbiddenError(
      'This key may only report endpoints of its own company and site',
      results.map((_, i) => ({
        path: `updates[${i}].endpointId`,
        message: 'is stored under another company or site',
      })),
    );
  }
}
