// The text of an alert (DESIGN §5): SNS subject, the per-protocol message bodies and the message
// attributes subscribers filter on. Pure: the SNS adapter only wraps this in a Publish input.
import type { Severity, Transition } from './transition.ts';

/** SNS rejects longer subjects. */
export const SUBJECT_MAX = 100;
/** One SMS segment of ASCII text; SNS splits longer messages. */
export const SMS_MAX = 140;

export type AlertAttributeName = 'groupId' | 'event' | 'companyId' | 'siteId' | 'severity';

export interface AlertMessage {
  readonly subject: string;
  readonly message: { readonly default: string; readonly email: string; readonly sms: string };
  readonly attributes: Readonly<Record<AlertAttributeName, string>>;
}

/** The machine-readable `default` body: what HTTPS / SQS / Lambda subscribers parse. */
export type AlertPayload = Pick<
  Transition,
  | 'transitionId'
  | 'groupId'
  | 'groupName'
  | 'endpointId'
  | 'hostname'
  | 'companyId'
  | 'siteId'
  | 'occurredAt'
  | 'fields'
> & { readonly recordedLate: boolean } & {
  readonly type: 'keywatch.group.entered' | 'keywatch.group.exited';
};

export function buildAlert(t: Transition): AlertMessage {
  return {
    subject: subjectFor(t),
    message: { default: JSON.stringify(payloadFor(t)), email: emailFor(t), sms: smsFor(t) },
    attributes: {
      groupId: t.groupId,
      event: t.event,
      companyId: t.companyId,
      siteId: t.siteId,
      // The evaluator only marks a transition for alerting when the group's policy has a severity.
      severity: t.severity ?? 'none',
    },
  };
}

function payloadFor(t: Transition): AlertPayload {
  return {
    type: t.event === 'entered' ? 'keywatch.group.entered' : 'keywatch.group.exited',
    transitionId: t.transitionId,
    groupId: t.groupId,
    groupName: t.groupName,
    endpointId: t.endpointId,
    hostname: t.hostname,
    companyId: t.companyId,
    siteId: t.siteId,
    occurredAt: t.occurredAt,
    fields: t.fields,
    recordedLate: t.recordedLate === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Subject: `<group>: <host> (<company> / <site>)`, exits prefixed `Cleared: `. SNS replaces a subject
// holding control or non-ASCII characters with an error text, so every part is folded to printable
// ASCII first; when too long, the longest parts are shortened evenly so group and host stay legible.

const EXIT_PREFIX = 'Cleared: ';

function subjectFor(t: Transition): string {
  const parts = [t.groupName, endpointLabel(t), companyLabel(t), siteLabel(t)].map(
    (p) => toSubjectAscii(p) || '?',
  );
  const prefix = t.event === 'exited' ? EXIT_PREFIX : '';
  const render = ([group, host, company, site]: string[]) =>
    `${prefix}${group}: ${host} (${company} / ${site})`;
  const budget = SUBJECT_MAX - render(['', '', '', '']).length;
  const [group = '?', ...where] = parts;
  if (parts.reduce((n, p) => n + p.length, 0) <= budget) return render(parts);
  // The group names the alert: it keeps up to GROUP_KEEP characters, the place shares the rest, and
  // whatever the place does not need goes back to the group.
  const placed = fitEvenly(where, budget - Math.min(group.length, GROUP_KEEP), '...');
  const left = budget - placed.reduce((n, p) => n + p.length, 0);
  return render([group.length <= left ? group : cutAscii(group, left, '...'), ...placed]);
}

/** Characters of the group name a long hostname or company name can never take away. */
const GROUP_KEEP = 50;

/** Folds text to printable ASCII on one line: accents dropped (Zürich → Zurich), whitespace and
 *  control characters collapsed to one space, anything else unrepresentable becomes `?`. */
function toSubjectAscii(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/\p{Cf}/gu, '')
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .replace(/[^\x20-\x7e]/gu, '?')
    .trim();
}

/**
 * Shortens the longest of `parts` (ASCII) until their total length is at most `budget`: finds the
 * largest cap L with Σ min(len, L) ≤ budget and cuts every longer part to L, ending it in `ellipsis`.
 */
function fitEvenly(parts: string[], budget: number, ellipsis: string): string[] {
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total <= budget) return parts;
  let cap = 0;
  for (let l = Math.max(...parts.map((p) => p.length)); l >= 0; l--) {
    if (parts.reduce((n, p) => n + Math.min(p.length, l), 0) <= budget) {
      cap = l;
      break;
    }
  }
  return parts.map((p) => (p.length <= cap ? p : cutAscii(p, cap, ellipsis)));
}

function cutAscii(text: string, max: number, ellipsis: string): string {
  if (max <= ellipsis.length) return text.slice(0, max);
  return text.slice(0, max - ellipsis.length).trimEnd() + ellipsis;
}

// ---------------------------------------------------------------------------------------------
// SMS: one line, at most SMS_MAX characters (UTF-16 units).

function smsFor(t: Transition): string {
  // Group first, so that a long hostname or company name cannot push it out of the message.
  const where = `${cut(endpointLabel(t), 24)} (${cut(companyLabel(t), 16)} / ${cut(siteLabel(t), 12)})`;
  const text =
    t.event === 'entered'
      ? `keywatch ${severityLabel(t.severity)}: ${t.groupName} on ${where}.` +
        (t.statusText ? ` Status: ${t.statusText}` : '')
      : `keywatch cleared: ${t.groupName} on ${where}.`;
  return truncateUtf16(oneLine(text), SMS_MAX);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : truncateUtf16(text, max);
}

// ---------------------------------------------------------------------------------------------
// E-mail: readable text with what happened, where, the status and what to do.

function emailFor(t: Transition): string {
  const host = endpointLabel(t);
  const headline =
    t.event === 'entered'
      ? `${host} entered the group "${t.groupName}".`
      : `${host} left the group "${t.groupName}".`;
  const fieldLines = Object.entries(t.fields).map(([key, value]) => `  ${key}: ${formatValue(value)}`);
  const lines = [
    headline,
    '',
    `Endpoint:  ${t.hostname === null ? t.endpointId : `${t.hostname} (id ${t.endpointId})`}`,
    `Company:   ${named(t.companyName, t.companyId)}`,
    `Site:      ${named(t.siteName, t.siteId)}`,
    `Group:     ${t.groupName} (id ${t.groupId})`,
    `Severity:  ${t.severity ?? 'none'}`,
    `When:      ${t.occurredAt}`,
    `Status:    ${t.statusText ?? '(not reported)'}`,
    '',
    'What to do:',
    ...adviceFor(t).map((line) => `  ${line}`),
  ];
  if (fieldLines.length > 0) lines.push('', 'Fields the group reads:', ...fieldLines);
  if (t.recordedLate === true) {
    lines.push(
      '',
      'Recorded late: this state was reported at the time above and has changed since; its evaluation',
      'was held up by a failure and replayed. Check the endpoint for its current state.',
    );
  }
  lines.push('', `Transition ${t.transitionId}, sent by keywatch.`);
  return lines.join('\n');
}

const GROUP = {
  enabled: 'bitlocker-key-backup-enabled',
  failed: 'bitlocker-key-backup-failed',
  successful: 'bitlocker-key-backup-successful',
  missing: 'bitlocker-key-missing',
} as const;

/** Advice for the shipped BitLocker groups; other groups get generic text. */
function adviceFor(t: Transition): string[] {
  const status = t.statusText ?? '';
  if (t.event === 'entered') {
    switch (t.groupId) {
      case GROUP.failed:
        return failedAdvice(status);
      case GROUP.missing: {
        const drives = drivesIn(status, /([A-Z]):\s*-\s*(?:Key: Not Found|Not Available)/gi);
        return [
          `A BitLocker-protected volume${drives ? ` (${drives})` : ''} has no recovery password protector, so there is no key to back up and the data cannot be recovered if the device locks.`,
          'Add one on the device (manage-bde -protectors -add <drive>: -RecoveryPassword), then rerun the BitLocker key backup script and check that the status reports success.',
        ];
      }
      case GROUP.enabled:
        return ['BitLocker key backup now applies to this endpoint. Make sure the backup script runs on it.'];
      case GROUP.successful:
        return ['Every BitLocker recovery key of this endpoint is backed up. No action needed.'];
      default:
        return ["The endpoint now matches this group's criteria. Review it and follow your runbook."];
    }
  }
  switch (t.groupId) {
    case GROUP.failed:
      return [
        'Resolved: the endpoint no longer reports a failed key backup. No action needed.',
        'Check the status above: a key reported as not found raises its own alert.',
      ];
    case GROUP.missing:
      return ['Resolved: the endpoint no longer reports a missing recovery key. No action needed.'];
    case GROUP.enabled:
      return [
        'BitLocker key backup no longer applies to this endpoint (company policy, site or endpoint opt-out, OS or endpoint type changed). Confirm this is intended.',
      ];
    case GROUP.successful:
      return ['The endpoint no longer reports a successful key backup. Check its current status.'];
    default:
      return ["The endpoint no longer matches this group's criteria. No action needed unless unexpected."];
  }
}

function failedAdvice(status: string): string[] {
  const drives = drivesIn(status, /([A-Z]):\s*-\s*FAILED/gi);
  const lines = [
    `The backup script could not escrow the recovery key${drives ? ` of ${drives}` : ''} (recovery key id shown in the status).`,
  ];
  const azure = /Azure AD/i.test(status);
  const local = /Local AD/i.test(status);
  if (azure || !local) {
    lines.push(
      'Entra ID (Azure AD): check the device is joined and healthy (dsregcmd /status) and can reach Entra ID.',
    );
  }
  if (local || !azure) {
    lines.push(
      'Active Directory: check the domain join, that a domain controller is reachable, and that the computer may write its recovery information to AD.',
    );
  }
  lines.push('Then rerun the BitLocker key backup script and check that the status reports success.');
  return lines;
}

function drivesIn(status: string, pattern: RegExp): string {
  const drives = [...status.matchAll(pattern)].map((m) => `${(m[1] ?? '').toUpperCase()}:`);
  return [...new Set(drives)].join(', ');
}

// ---------------------------------------------------------------------------------------------

function endpointLabel(t: Transition): string {
  return t.hostname !== null && t.hostname.trim() !== '' ? t.hostname : t.endpointId;
}

function companyLabel(t: Transition): string {
  return named(t.companyName, t.companyId);
}

function siteLabel(t: Transition): string {
  return named(t.siteName, t.siteId);
}

function named(name: string | null, id: string): string {
  return name !== null && name.trim() !== '' ? name : id;
}

function severityLabel(severity: Severity | null): string {
  return severity === null ? 'alert' : severity.toUpperCase();
}

function formatValue(value: unknown): string {
  return value === null ? '(empty)' : typeof value === 'string' ? value : JSON.stringify(value);
}

function oneLine(text: string): string {
  return text.replace(/[\s\p{Cc}]+/gu, ' ').trim();
}

/**
 * Cuts to at most `max` UTF-16 units — what an SMS counts (a non-GSM message is UCS-2), and never
 * more than the code points — without splitting a surrogate pair, ending in `...` when cut: an ASCII
 * ellipsis keeps an ASCII SMS in one GSM segment.
 */
function truncateUtf16(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const point of text) {
    if (out.length + point.length > max - 3) break;
    out += point;
  }
  return `${out.trimEnd()}...`;
}
