// Environment configuration, read once at cold start. A missing required variable fails the
// function's initialisation with a clear message instead of surfacing later as `undefined`.

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`Environment variable ${name} is required but not set`);
  }
  return value;
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function flagEnv(name: string): boolean {
  const raw = optionalEnv(name);
  if (raw === undefined) return false;
  if (raw !== 'true' && raw !== 'false')
    throw new Error(`Environment variable ${name} must be true or false, got ${raw}`);
  return raw === 'true';
}

export function intEnv(name: string, fallback: number): number {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`Environment variable ${name} must be an integer, got ${raw}`);
  return n;
}
