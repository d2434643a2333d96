// Alert text of DESIGN §5: subject, default / email / sms bodies and attributes.
import { describe, expect, it } from 'vitest';
import { buildAlert, SMS_MAX, SUBJECT_MAX } from '#core/alert-message.ts';
import { FAILED_STATUS, transition } from '#test/helpers/factories.ts';

const PRINTABLE_ASCII = /^[\x21-\x7e][\x20-\x7e]*$/;

describe('buildAlert', () => {
  describe('subject', () => {
    it('names the group, the hostname, and company and site by name', () => {
      expect(buildAlert(transition()).subject).toBe('BitLocker Key Backup Failed: LAPTOP-042 (Contoso / HQ)');
    });

    it('marks an exit so it cannot be mistaken for an entry', () => {
      const entered = buildAlert(transition()).subject;
      const exited = buildAlert(transition({ event: 'exited' })).subject;
      expect(exited).toBe('Cleared: BitLocker Key Backup Failed: LAPTOP-042 (Contoso / HQ)');
      expect(exited).not.toBe(entered);
    });

    it('falls back to the endpoint, company and site ids when no names are known', () => {
      const alert = buildAlert(transition({ hostname: null, companyName: null, siteName: null }));
      expect(alert.subject).toBe('BitLocker Key Backup Failed: ep-042 (contoso / hq)');
    });

    it('treats a blank hostname or name as missing', () => {
      const alert = buildAlert(transition({ hostname: '  ', companyName: '', siteName: ' ' }));
      expect(alert.subject).toBe('BitLocker Key Backup Failed: ep-042 (contoso / hq)');
    });

    it('stays within 100 characters and keeps group and host legible when every part is long', () => {
      const alert = buildAlert(
        transition({
          groupName: `Group ${'G'.repeat(200)}`,
          hostname: `HOST-${'h'.repeat(300)}`,
          companyName: `Company ${'c'.repeat(150)}`,
          siteName: `Site ${'s'.repeat(150)}`,
        }),
      );
      expect(alert.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
      expect(alert.subject).toMatch(/^Group G+\.\.\.: HOST-h+\.\.\. \(Company c+\.\.\. \/ Site s+\.\.\.\)$/);
      expect(alert.subject.length).toBeGreaterThan(90);
    });

    it('keeps the group name whole when a long hostname and names share the rest', () => {
      const alert = buildAlert(
        transition({
          hostname: 'H'.repeat(120),
          companyName: 'A Very Long Company Name Indeed',
          siteName: 'Site With Quite A Long Name',
        }),
      );
      expect(alert.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
      expect(alert.subject.startsWith('BitLocker Key Backup Failed: HHH')).toBe(true);
    });

    it('shortens only the long part when the others are short', () => {
      const alert = buildAlert(transition({ hostname: `H${'x'.repeat(500)}` }));
      expect(alert.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
      expect(alert.subject).toMatch(/^BitLocker Key Backup Failed: Hx+\.\.\. \(Contoso \/ HQ\)$/);
    });

    it('keeps an exit within 100 characters too', () => {
      const alert = buildAlert(transition({ event: 'exited', hostname: 'y'.repeat(400) }));
      expect(alert.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
      expect(alert.subject.startsWith('Cleared: BitLocker Key Backup Failed: yyy')).toBe(true);
    });

    it('is printable ASCII on one line: accents folded, other characters replaced, newlines removed', () => {
      const alert = buildAlert(
        transition({
          hostname: 'PC-Zürich-01\r\nX-Injected: 1',
          companyName: 'Société Générale',
          siteName: '東京 🏢',
          groupName: '\tBitLocker\u200b Key Backup Failed',
        }),
      );
      expect(alert.subject).toMatch(PRINTABLE_ASCII);
      expect(alert.subject).toBe(
        'BitLocker Key Backup Failed: PC-Zurich-01 X-Injected: 1 (Societe Generale / ?? ?)',
      );
    });

    it('never exceeds 100 characters with long unicode text in every part', () => {
      const long = 'ü東🏢'.repeat(100);
      const alert = buildAlert(
        transition({ groupName: long, hostname: long, companyName: long, siteName: long, event: 'exited' }),
      );
      expect(alert.subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
      expect(alert.subject).toMatch(PRINTABLE_ASCII);
    });

    it('stays non-empty and starts with a printable character when a name folds to nothing', () => {
      const alert = buildAlert(transition({ groupName: '\n\n', hostname: '\u200b' }));
      expect(alert.subject).toMatch(PRINTABLE_ASCII);
      expect(alert.subject).toBe('?: ? (Contoso / HQ)');
    });
  });

  describe('default message', () => {
    it('is the transition as JSON with the entered type', () => {
      const alert = buildAlert(transition({ transitionId: '01J8Z3N0ABCDEF' }));
      expect(JSON.parse(alert.message.default)).toEqual({
        type: 'keywatch.group.entered',
        transitionId: '01J8Z3N0ABCDEF',
        groupId: 'bitlocker-key-backup-failed',
        groupName: 'BitLocker Key Backup Failed',
        endpointId: 'ep-042',
        hostname: 'LAPTOP-042',
        companyId: 'contoso',
        siteId: 'hq',
        occurredAt: '2025-05-01T10:00:00.000Z',
        fields: { 'ENDPOINT:BitLocker Key Backup Status': FAILED_STATUS },
        recordedLate: false,
      });
    });

    it('says when a state was recorded late, in the payload and the e-mail', () => {
      const alert = buildAlert(transition({ recordedLate: true }));
      expect((JSON.parse(alert.message.default) as { recordedLate: boolean }).recordedLate).toBe(true);
      expect(alert.message.email).toContain('Recorded late');
      expect(buildAlert(transition()).message.email).not.toContain('Recorded late');
    });

    it('uses the exited type for an exit and keeps a null hostname and unicode as they are', () => {
      const alert = buildAlert(transition({ event: 'exited', hostname: null, groupName: 'Gruppe Ü 東' }));
      const payload = JSON.parse(alert.message.default) as Record<string, unknown>;
      expect(payload.type).toBe('keywatch.group.exited');
      expect(payload.hostname).toBeNull();
      expect(payload.groupName).toBe('Gruppe Ü 東');
    });
  });

  describe('sms', () => {
    it('says what happened where, with the status', () => {
      expect(buildAlert(transition()).message.sms).toBe(
        `keywatch HIGH: BitLocker Key Backup Failed on LAPTOP-042 (Contoso / HQ). Status: ${FAILED_STATUS}`,
      );
    });

    it('says an exit cleared', () => {
      expect(buildAlert(transition({ event: 'exited' })).message.sms).toBe(
        'keywatch cleared: BitLocker Key Backup Failed on LAPTOP-042 (Contoso / HQ).',
      );
    });

    it('keeps the group and the start of the status when hostname and names are long', () => {
      const long = transition({
        hostname: 'H'.repeat(120),
        companyName: 'C'.repeat(80),
        siteName: 'S'.repeat(80),
      });
      const sms = buildAlert(long).message.sms;
      expect(sms.startsWith('keywatch HIGH: BitLocker Key Backup Failed on HHH')).toBe(true);
      expect(sms).toContain('Status: | C: - FAILED');
      expect(sms.length).toBeLessThanOrEqual(SMS_MAX);
    });

    it('is at most 140 characters (UTF-16 units), cut without splitting a surrogate pair', () => {
      const alert = buildAlert(transition({ hostname: '🏢'.repeat(200), statusText: 'x\n'.repeat(200) }));
      const sms = alert.message.sms;
      expect(sms.length).toBeLessThanOrEqual(SMS_MAX);
      expect(sms.endsWith('...')).toBe(true);
      expect(sms).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
      expect(sms).not.toContain('\n');
    });

    it('is at most 140 characters for a long exit', () => {
      const sms = buildAlert(transition({ event: 'exited', groupName: 'G'.repeat(300) })).message.sms;
      expect(sms.length).toBe(SMS_MAX);
    });
  });

  describe('email', () => {
    it('says what happened, where, the status and what to do for a failed backup', () => {
      const email = buildAlert(transition()).message.email;
      expect(email).toContain('LAPTOP-042 entered the group "BitLocker Key Backup Failed"');
      expect(email).toContain('Company:   Contoso');
      expect(email).toContain('Site:      HQ');
      expect(email).toContain(`Status:    ${FAILED_STATUS}`);
      expect(email).toContain('Entra ID');
      expect(email).toContain('rerun the BitLocker key backup script');
      expect(email).toContain('of C:');
    });

    it('points at Active Directory for a Local AD failure', () => {
      const status = '| C: - FAILED - 1; Local AD | D: - FAILED - 2; Local AD |';
      const email = buildAlert(transition({ statusText: status })).message.email;
      expect(email).toContain('Active Directory');
      expect(email).not.toContain('Entra ID');
      expect(email).toContain('of C:, D:');
    });

    it('advises adding a protector for a missing key', () => {
      const status = '| D: - Key: Not Found |';
      const email = buildAlert(
        transition({
          groupId: 'bitlocker-key-missing',
          groupName: 'BitLocker Key Missing',
          statusText: status,
        }),
      ).message.email;
      expect(email).toContain('(D:)');
      expect(email).toContain('manage-bde -protectors -add');
    });

    it('says an exit is resolved and needs no action', () => {
      const email = buildAlert(
        transition({ event: 'exited', statusText: '| All BitLocker keys are backed up successfully. |' }),
      ).message.email;
      expect(email).toContain('LAPTOP-042 left the group "BitLocker Key Backup Failed"');
      expect(email).toContain('Resolved');
      expect(email).toContain('No action needed');
    });

    it('gives generic advice for other groups and names ids when names are missing', () => {
      const email = buildAlert(
        transition({
          groupId: 'custom',
          groupName: 'Custom',
          hostname: null,
          companyName: null,
          siteName: null,
          statusText: null,
          fields: {},
        }),
      ).message.email;
      expect(email).toContain('ep-042 entered the group "Custom"');
      expect(email).toContain('Company:   contoso');
      expect(email).toContain('Site:      hq');
      expect(email).toContain('Status:    (not reported)');
      expect(email).toContain("matches this group's criteria");
      expect(email).not.toContain('Fields the group reads');
    });
  });

  describe('attributes', () => {
    it('carries group, event, company, site and severity for subscription filters', () => {
      expect(buildAlert(transition({ event: 'exited' })).attributes).toEqual({
        groupId: 'bitlocker-key-backup-failed',
        event: 'exited',
        companyId: 'contoso',
        siteId: 'hq',
        severity: 'high',
      });
    });
  });
});
