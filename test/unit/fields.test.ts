// Field-value rules of DESIGN §1, checked through validateFields with the shipped catalogue and, for
// the types it lacks (Number, Date), with a small test catalogue.
import { describe, expect, it } from 'vitest';
import { type Catalogue, defineCatalogue } from '#core/catalogue.ts';
import type { ProblemDetail } from '#core/errors.ts';
import { canonicalBuiltIn, validateFields } from '#core/fields.ts';
import { parseIsoInstant } from '#core/instant.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';

const STATUS = 'BitLocker Key Backup Status';
const DISABLE = 'Disable BitLocker Key Backup';
const ENABLE = 'Enable BitLocker Key Backup';

function check(
  level: 'COMPANY' | 'SITE' | 'ENDPOINT',
  input: unknown,
  catalogue: Catalogue = SHIPPED_CATALOGUE,
) {
  const problems: ProblemDetail[] = [];
  const changes = validateFields(catalogue, level, input, 'fields', problems);
  return { changes, problems };
}

const TEST_CATALOGUE = defineCatalogue([
  { name: 'Disk Free', level: 'ENDPOINT', type: 'Number' },
  { name: 'Last Backup', level: 'ENDPOINT', type: 'Date' },
  { name: 'OS Type', level: 'ENDPOINT', type: 'Dropdown', options: ['Windows'], builtIn: 'osType' },
]);

describe('validateFields', () => {
  describe('Dropdown', () => {
    it.each([
      ['windows workstation', 'Windows Workstation'],
      ['WINDOWS WORKSTATION AND SERVER', 'Windows Workstation and Server'],
      ['Disabled', 'Disabled'],
    ])('matches "%s" ignoring case and stores "%s"', (input, canonical) => {
      const { changes, problems } = check('COMPANY', { [ENABLE]: input });
      expect(problems).toEqual([]);
      expect(changes.set).toEqual({ [ENABLE]: canonical });
    });

    it.each([['Windows'], [''], [' Disabled'], [true], [1]])('rejects %j and names the field', (input) => {
      const { problems } = check('COMPANY', { [ENABLE]: input });
      expect(problems).toHaveLength(1);
      expect(problems[0]?.path).toBe(`fields.${ENABLE}`);
      expect(problems[0]?.message).toContain(ENABLE);
    });
  });

  describe('Flag', () => {
    it.each([[true], [false]])('accepts %j', (value) => {
      const { changes, problems } = check('ENDPOINT', { [DISABLE]: value });
      expect(problems).toEqual([]);
      expect(changes.set).toEqual({ [DISABLE]: value });
    });

    it.each([['true'], ['True'], [0], [1], [''], [{}], [[]]])('rejects %j', (value) => {
      const { problems } = check('SITE', { [DISABLE]: value });
      expect(problems).toEqual([{ path: `fields.${DISABLE}`, message: expect.stringContaining(DISABLE) }]);
    });
  });

  describe('Number', () => {
    it.each([[0], [-1.5], [1e21]])('accepts %j', (value) => {
      expect(check('ENDPOINT', { 'Disk Free': value }, TEST_CATALOGUE).changes.set).toEqual({
        'Disk Free': value,
      });
    });

    it.each([[Number.NaN], [Number.POSITIVE_INFINITY], ['12'], [true]])('rejects %j', (value) => {
      expect(check('ENDPOINT', { 'Disk Free': value }, TEST_CATALOGUE).problems).toHaveLength(1);
    });
  });

  describe('Date', () => {
    it.each([
      '2024-05-01T10:00:00Z',
      '2024-05-01T10:00:00.123Z',
      '2024-05-01T12:00:00+02:00',
      '2024-05-01T10:00Z',
    ])('accepts %s', (value) => {
      const { problems, changes } = check('ENDPOINT', { 'Last Backup': value }, TEST_CATALOGUE);
      expect(problems).toEqual([]);
      expect(changes.set).toEqual({ 'Last Backup': value });
    });

    it.each([
      '2024-05-01T10:00:00',
      '2024-05-01',
      '2024-02-30T10:00:00Z',
      '2024-13-01T10:00:00Z',
      '2024-05-01T25:00:00Z',
      'yesterday',
      '1714557600000',
    ])('rejects %s', (value) => {
      expect(check('ENDPOINT', { 'Last Backup': value }, TEST_CATALOGUE).problems).toHaveLength(1);
    });

    it('rejects a number', () => {
      expect(check('ENDPOINT', { 'Last Backup': 1714557600000 }, TEST_CATALOGUE).problems).toHaveLength(1);
    });
  });

  describe('Text', () => {
    it('accepts 300 characters', () => {
      const { problems } = check('ENDPOINT', { [STATUS]: 'x'.repeat(300) });
      expect(problems).toEqual([]);
    });

    it('rejects 301 characters', () => {
      const { problems } = check('ENDPOINT', { [STATUS]: 'x'.repeat(301) });
      expect(problems).toEqual([{ path: `fields.${STATUS}`, message: expect.stringContaining('300') }]);
    });

    it('rejects text holding a lone surrogate (not valid Unicode)', () => {
      const { problems } = check('ENDPOINT', { [STATUS]: 'ok \ud800 not ok' });
      expect(problems).toEqual([{ path: `fields.${STATUS}`, message: expect.stringContaining('Unicode') }]);
    });

    it('counts an emoji outside the BMP as one character', () => {
      // 300 emoji are 600 UTF-16 code units but 300 code points.
      expect(check('ENDPOINT', { [STATUS]: '🔑'.repeat(300) }).problems).toEqual([]);
      expect(check('ENDPOINT', { [STATUS]: '🔑'.repeat(301) }).problems).toHaveLength(1);
    });

    it('keeps the empty string as a value, distinct from clearing', () => {
      const { changes } = check('ENDPOINT', { [STATUS]: '' });
      expect(changes).toEqual({ set: { [STATUS]: '' }, clear: [] });
    });

    it.each([[1], [true], [['a']]])('rejects %j', (value) => {
      expect(check('ENDPOINT', { [STATUS]: value }).problems).toHaveLength(1);
    });
  });

  it('treats null as clearing the field', () => {
    const { changes, problems } = check('ENDPOINT', { [STATUS]: null, [DISABLE]: null });
    expect(problems).toEqual([]);
    expect(changes).toEqual({ set: {}, clear: [STATUS, DISABLE] });
  });

  it('rejects an unknown field and names it in the message', () => {
    const { problems } = check('ENDPOINT', { 'Bitlocker key backup status': 'x' });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe('fields.Bitlocker key backup status');
    expect(problems[0]?.message).toContain('Bitlocker key backup status');
  });

  it.each([
    ['ENDPOINT', ENABLE],
    ['SITE', STATUS],
    ['COMPANY', DISABLE],
    ['SITE', ENABLE],
  ] as const)('rejects at %s level the field "%s" of another level', (level, name) => {
    const value = name === ENABLE ? 'Disabled' : name === DISABLE ? true : 'x';
    const { problems } = check(level, { [name]: value });
    expect(problems).toEqual([{ path: `fields.${name}`, message: expect.stringContaining(name) }]);
  });

  it('accepts the same-named Disable flag at SITE and at ENDPOINT', () => {
    expect(check('SITE', { [DISABLE]: true }).problems).toEqual([]);
    expect(check('ENDPOINT', { [DISABLE]: true }).problems).toEqual([]);
  });

  it('does not let a built-in property be written as a field', () => {
    expect(check('ENDPOINT', { 'OS Type': 'Windows' }, TEST_CATALOGUE).problems).toHaveLength(1);
    expect(check('ENDPOINT', { 'OS Type': 'Windows' }).problems).toHaveLength(1);
  });

  it('reports every problem, each with its own path', () => {
    const { problems } = check('ENDPOINT', { [STATUS]: 5, [DISABLE]: 'yes', Nope: 1 });
    expect(problems.map((p) => p.path).sort()).toEqual(
      [`fields.${STATUS}`, `fields.${DISABLE}`, 'fields.Nope'].sort(),
    );
  });

  it.each([[null], [[]], ['x'], [5]])('rejects fields given as %j', (input) => {
    expect(check('ENDPOINT', input).problems).toEqual([{ path: 'fields', message: expect.any(String) }]);
  });

  it('accepts fields left out', () => {
    expect(check('ENDPOINT', undefined)).toEqual({ changes: { set: {}, clear: [] }, problems: [] });
  });
});

describe('canonicalBuiltIn', () => {
  const canonical = (property: 'osType' | 'endpointType', value: string, catalogue = SHIPPED_CATALOGUE) =>
    canonicalBuiltIn(catalogue, property, value);

  it('matches ignoring case and returns the canonical spelling', () => {
    expect(canonical('osType', 'MACOS')).toEqual({ value: 'macOS' });
    expect(canonical('osType', 'linux')).toEqual({ value: 'Linux' });
    expect(canonical('endpointType', 'virtual machine')).toEqual({ value: 'Virtual Machine' });
  });

  it("rejects values outside the catalogue's options, naming them", () => {
    expect(canonical('osType', 'Win')).toEqual({ problem: 'must be one of: Windows, macOS, Linux' });
    expect(canonical('endpointType', 'VM')).toEqual({
      problem: 'must be one of: Desktop, Laptop, Server, Virtual Machine',
    });
  });

  it('takes its options from the catalogue it is given', () => {
    expect(canonical('osType', 'macOS', TEST_CATALOGUE)).toEqual({ problem: 'must be one of: Windows' });
    expect(canonical('endpointType', 'Toaster', TEST_CATALOGUE)).toEqual({ value: 'Toaster' });
  });
});

describe('parseIsoInstant', () => {
  it('reads the instant including the zone offset', () => {
    expect(parseIsoInstant('2024-05-01T12:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 10));
  });

  it('accepts 29 February in a leap year only', () => {
    expect(parseIsoInstant('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseIsoInstant('2023-02-29T00:00:00Z')).toBeUndefined();
  });
});
