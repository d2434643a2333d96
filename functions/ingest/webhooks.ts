// RMM webhooks: bodies in a shape an RMM's webhook template can produce (one event, or an array of
// them), mapped to status updates that then take exactly the status route's path (scope, validation,
// results). `generic` is the one shape today; README "Webhooks" shows how each RMM fills it.
import * as z from 'zod/mini';
import { type ProblemDetail, ValidationError } from '#core/errors.ts';
import { formatPath, Id } from '#http/validation.ts';
import { BUILT_IN_PROPERTIES, MAX_UPDATES, type StatusBody } from './schema.ts';

const Text = z.string().check(z.minLength(1), z.maxLength(255));
const Timestamp = z.union([z.string().check(z.minLength(1)), z.number()]);

/** Extra properties an RMM adds to its payload are ignored; missing ones are named. */
const GenericEvent = z.object({
  deviceId: Id,
  hostname: z.optional(Text),
  companyId: z.optional(Id),
  siteId: z.optional(Id),
  field: z.optional(z.string().check(z.minLength(1))),
  value: z.optional(z.unknown()),
  // Checked against the catalogue with the status route's own rules (z.record drops `__proto__`).
  fields: z.optional(z.unknown()),
  timestamp: Timestamp,
  osType: z.optional(z.string()),
  endpointType: z.optional(z.string()),
  ...BUILT_IN_PROPERTIES,
});
type GenericEvent = z.infer<typeof GenericEvent>;

/** The largest Unix time taken as seconds; larger integers are milliseconds (up to year 5138). */
const MAX_SECONDS = 99_999_999_999;
const MAX_MILLISECONDS = 99_999_999_999_999;

/**
 * ISO-8601 as it is; Unix time in seconds or milliseconds (a non-negative integer, or its digits)
 * converted. Anything else is passed on as text, for the status route's validation to refuse (400).
 */
function observedAt(ts: string | number): string {
  const n = typeof ts === 'number' ? ts : /^\d{1,15}$/.test(ts.trim()) ? Number(ts.trim()) : undefined;
  if (n === undefined || !Number.isSafeInteger(n) || n < 0 || n > MAX_MILLISECONDS) return String(ts);
  return new Date(n <= MAX_SECONDS ? n * 1000 : n).toISOString();
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Where a status-update property came from in the webhook event. */
const EVENT_PROPERTY: Readonly<Record<string, string>> = { endpointId: 'deviceId', observedAt: 'timestamp' };

/**
 * Names a problem found on the mapped status updates (`updates[0].observedAt`) by the property the
 * webhook sent (`[0].timestamp`, or `timestamp` for a single event; a `field`'s value is `value`).
 */
export function webhookPath(path: string, body: unknown): string {
  const m = /^updates\[(\d+)\](?:\.(.*))?$/.exec(path);
  if (m === null) return path;
  const index = Number(m[1]);
  const events = Array.isArray(body) ? body : [body];
  const event = asObject(events[index]);
  const rest = m[2] ?? '';
  const [property = '', ...tail] = rest.split('.');
  let mapped = EVENT_PROPERTY[property] ?? property;
  if (property === 'fields' && typeof event.field === 'string' && tail.join('.') === event.field) {
    mapped = 'value';
  } else if (property === 'fields' && tail.length > 0) mapped = `fields.${tail.join('.')}`;
  const prefix = Array.isArray(body) ? `[${index}]` : '';
  if (mapped === '') return prefix === '' ? '(body)' : prefix;
  return prefix === '' ? mapped : `${prefix}.${mapped}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path)
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/**
 * Maps a webhook body to the status route's body. `scope` fills `companyId` / `siteId` an event leaves
 * out (a site key knows both, a company key its company), so templates need not repeat them.
 */
export function mapWebhook(body: unknown, scope: { companyId?: string; siteId?: string }): StatusBody {
  const events = Array.isArray(body) ? body : [body];
  const problems: ProblemDetail[] = [];
  if (events.length === 0 || events.length > MAX_UPDATES) {
    problems.push({ path: '(body)', message: `must hold 1 to ${MAX_UPDATES} events` });
  }
  const updates: StatusBody['updates'] = [];
  events.forEach((event, i) => {
    const at = Array.isArray(body) ? [i] : [];
    const parsed = GenericEvent.safeParse(event);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = [...at, ...issue.path];
        const missing = valueAt(event, issue.path) === undefined;
        problems.push({ path: formatPath(path), message: missing ? 'is required' : issue.message });
      }
      return;
    }
    const e: GenericEvent = parsed.data;
    const companyId = e.companyId ?? scope.companyId;
    const siteId = e.siteId ?? (companyId === scope.companyId ? scope.siteId : undefined);
    if (companyId === undefined)
      problems.push({ path: formatPath([...at, 'companyId']), message: 'is required' });
    if (siteId === undefined) problems.push({ path: formatPath([...at, 'siteId']), message: 'is required' });
    if (e.field === undefined && e.fields === undefined) {
      problems.push({ path: formatPath([...at, 'field']), message: 'is required (or give "fields")' });
    }
    if (e.field !== undefined && e.value === undefined) {
      problems.push({ path: formatPath([...at, 'value']), message: 'is required (null clears the field)' });
    }
    if (e.field !== undefined && e.fields !== undefined && asObject(e.fields) !== e.fields) {
      problems.push({ path: formatPath([...at, 'fields']), message: 'must be an object { name: value }' });
    }
    if (companyId === undefined || siteId === undefined) return;
    updates.push({
      endpointId: e.deviceId,
      companyId,
      siteId,
      observedAt: observedAt(e.timestamp),
      ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
      ...(e.osType !== undefined ? { osType: e.osType } : {}),
      ...(e.endpointType !== undefined ? { endpointType: e.endpointType } : {}),
      ...Object.fromEntries(
        Object.keys(BUILT_IN_PROPERTIES)
          .map((k) => [k, e[k as keyof typeof BUILT_IN_PROPERTIES]])
          .filter(([, v]) => v !== undefined),
      ),
      fields: e.field === undefined ? e.fields : { ...asObject(e.fields), [e.field]: e.value },
    });
  });
  if (problems.length > 0) throw new ValidationError('Invalid webhook body', problems);
  return { updates };
}
