// Shape of the status route's body. `fields` is left to the core, which checks it against the
// catalogue: z.record would silently drop an own `__proto__` key instead of rejecting it as unknown.
import * as z from 'zod/mini';
import { Id } from '#http/validation.ts';

export const MAX_UPDATES = 500;
/** Entries of a list-valued built-in, and their length: an endpoint item stays far below 400 KB. */
export const MAX_LIST_ENTRIES = 1000;
const Entry = z.string().check(z.minLength(1), z.maxLength(255));
const Text = z.string().check(z.minLength(1), z.maxLength(255));

/** The RMM's further built-ins a report (or a webhook event) may carry. */
export const BUILT_IN_PROPERTIES = {
  os: z.optional(Text),
  osVersion: z.optional(Text),
  osBuildNumber: z.optional(z.number().check(z.int(), z.nonnegative())),
  installedSoftware: z.optional(z.array(Entry).check(z.maxLength(MAX_LIST_ENTRIES))),
  machineRoles: z.optional(z.array(Entry).check(z.maxLength(MAX_LIST_ENTRIES))),
  available: z.optional(z.boolean()),
};

const StatusUpdate = z.strictObject({
  endpointId: Id,
  companyId: Id,
  siteId: Id,
  observedAt: z.string(),
  hostname: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
  osType: z.optional(z.string()),
  endpointType: z.optional(z.string()),
  ...BUILT_IN_PROPERTIES,
  fields: z.optional(z.unknown()),
});

export const StatusBody = z.strictObject({
  updates: z.array(StatusUpdate).check(z.minLength(1), z.maxLength(MAX_UPDATES)),
});
export type StatusBody = z.infer<typeof StatusBody>;
