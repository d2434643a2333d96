// Factories for test records.
import { randomUUID } from 'node:crypto';
import type { Transition } from '#core/transition.ts';

import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';

export const FAILED_STATUS = SCRIPT_OUTPUT.failed;

/** An alerted entry of LAPTOP-042 (Contoso / HQ) into BitLocker Key Backup Failed, with a fresh id. */
export function transition(overrides: Partial<Transition> = {}): Transition {
  return {
    transitionId: `tr-${randomUUID()}`,
    groupId: 'bitlocker-key-backup-failed',
    groupName: 'BitLocker Key Backup Failed',
    endpointId: 'ep-042',
    hostname: 'LAPTOP-042',
    companyId: 'contoso',
    siteId: 'hq',
    companyName: 'Contoso',
    siteName: 'HQ',
    event: 'entered',
    occurredAt: '2025-05-01T10:00:00.000Z',
    alert: true,
    severity: 'high',
    fields: { 'ENDPOINT:BitLocker Key Backup Status': FAILED_STATUS },
    statusText: FAILED_STATUS,
    ...overrides,
  };
}
