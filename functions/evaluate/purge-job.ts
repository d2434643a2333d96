// The runner of `purge` jobs: removes a deleted group's memberships, one page of member items per
// step, without transitions.
import { mapLimit } from './context.ts';
import type { JobRunner } from './job-runner.ts';
import type { GroupReads, MembershipWriter } from './ports.ts';

export function purgeJobRunner(deps: {
  readonly groups: Pick<GroupReads, 'groupExists' | 'memberPage'>;
  readonly writer: Pick<MembershipWriter, 'purgeMember'>;
  readonly pageSize: number;
  readonly concurrency: number;
}): JobRunner {
  return {
    async step(job, cursor) {
      const groupId = job.groupId;
      // A group with this id exists again: its own fleet walk decides these memberships now.
      if (groupId === undefined || (await deps.groups.groupExists(groupId))) {
        return undefined;
      }
      const page = await deps.groups.memberPage(groupId, cursor, deps.pageSize);
      await mapLimit(page.items, deps.concurrency, (m) =>
        deps.writer.purgeMember(groupId, m.companyId, m.endpointId),
      );
      return { next: page.next, processed: page.items.length, changed: 0 };
    },
  };
}
