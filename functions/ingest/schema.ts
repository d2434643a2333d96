// Shapes of the ingest routes' bodies. Field values are checked against the catalogue by the core.
import * as z from 'zod/mini';
import { Id } from '#http/validation.ts';

export const MAX_UPDATES = 500;

const StatusUpdate = z.strictObject({
  endpointId: Id,
  companyId: Id,
  siteId: Id,
  observedAt: z.string(),
  hostname: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
  osType: z.optional(z.string()),
  endpointType: z.optional(z.string()),
  fields: z.optional(z.record(z.string(), z.unknown())),
});

export const StatusBody = z.strictObject({
  updates: z.array(StatusUpdate).check(z.minLength(1), z.maxLength(MAX_UPDATES)),
});
export type StatusBody = z.infer<typeof StatusBody>;

export const ScopeBody = z.strictObject({
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
  fields: z.optional(z.record(z.string(), z.unknown())),
});
export type ScopeBody = z.infer<typeof ScopeBody>;
