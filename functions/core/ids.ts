// Ids (`endpointId`, `companyId`, `siteId`, group ids; DESIGN §1): 1–128 characters (code points),
// none of `/`, `?`, `#` or whitespace, so they can sit in a path and in a key between `#`s.

/** With the `u` flag the length counts code points, as the contract does. */
export const ID_PATTERN = /^[^/?#\s]{1,128}$/u;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}
