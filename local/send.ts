// `npm run send -- <command>`: signs and sends keywatch API requests, for trying the API and for
// wiring an RMM. URL and admin secret come from KEYWATCH_URL / KEYWATCH_SECRET, else from the running
// `npm start` (.keywatch/local.json); `--key` (or KEYWATCH_KEY) sends with an ingest key instead.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FIELD, SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createClient } from './client.ts';

/** The options of a catalogue Dropdown as the usage lists them. */
const choices = (options: readonly string[] | undefined) =>
  (options ?? []).map((o) => (o.includes(' ') ? `"${o}"` : o)).join('|');

const USAGE = `Usage: npm run send -- <command> [options]

Commands:
  status   --endpoint ID --company ID --site ID [--status TEXT] [--hostname NAME]
           [--os ${choices(SHIPPED_CATALOGUE.builtIn('osType')?.options)}]
           [--type ${choices(SHIPPED_CATALOGUE.builtIn('endpointType')?.options)}]
           [--disable true|false] [--observed-at ISO] [--field "Name=JSON value"]...
  company  ID [--name NAME] [--enable ${choices(SHIPPED_CATALOGUE.customAt('COMPANY').get(FIELD.enableBackup)?.options)}]
  site     COMPANY SITE [--name NAME] [--disable true|false]
  webhook  FILE.json [--integration generic]   post an RMM webhook body (one event or an array)
  key create COMPANY [--site ID] [--description TEXT]   a new ingest key (shown once)
  key list   COMPANY
  key revoke COMPANY KEY_ID
  group    ID FILE.json          create or replace a group from a JSON file
  field    LEVEL NAME FILE.json  create or replace a custom field definition
  import   FIELDS.json [GROUPS.json] [--apply]   an RMM solution's fields and groups: a dry run
                                 (what would change, or every problem) unless --apply
  lint     ID                    lint warnings of a stored group
  get      PATH                  e.g. /v1/endpoints/LAPTOP-042, /v1/groups, /v1/transitions
  delete   PATH                  e.g. /v1/groups/my-group
  raw      METHOD PATH [JSON]

Options for every command:
  --key kwk_…   send with this ingest key (signed, X-Keywatch-Key-Id) instead of the admin secret
  --bearer      with --key: send the key as Authorization: Bearer (as a webhook would), unsigned

Environment: KEYWATCH_URL (default http://127.0.0.1:3000), KEYWATCH_SECRET (admin), KEYWATCH_KEY.`;

function die(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function connection(key: string | undefined): { url: string; secret: string } {
  let local: { url?: string; secret?: string } = {};
  try {
    local = JSON.parse(readFileSync('.keywatch/local.json', 'utf8'));
  } catch {
    // no running npm start here
  }
  const url = (process.env.KEYWATCH_URL ?? local.url ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
  if (key !== undefined) return { url, secret: key };
  const secret = (process.env.KEYWATCH_SECRET ?? local.secret ?? '').split(',')[0]?.trim();
  if (!secret) die('No secret: set KEYWATCH_SECRET (or run `npm start` in this directory).');
  return { url: url.replace(/\/$/, ''), secret };
}

function flag(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  die(`--${name} takes true or false`);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    endpoint: { type: 'string' },
    company: { type: 'string' },
    site: { type: 'string' },
    status: { type: 'string' },
    hostname: { type: 'string' },
    os: { type: 'string' },
    type: { type: 'string' },
    disable: { type: 'string' },
    enable: { type: 'string' },
    name: { type: 'string' },
    key: { type: 'string' },
    bearer: { type: 'boolean' },
    integration: { type: 'string' },
    description: { type: 'string' },
    'observed-at': { type: 'string' },
    field: { type: 'string', multiple: true },
    apply: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const [command, ...args] = positionals;
if (values.help || command === undefined) {
  console.log(USAGE);
  process.exit(command === undefined && !values.help ? 2 : 0);
}

const enc = encodeURIComponent;
let method = 'GET';
let target = '';
let body: unknown;

switch (command) {
  case 'status': {
    if (!values.endpoint || !values.company || !values.site)
      die('status needs --endpoint, --company and --site');
    const fields: Record<string, unknown> = {};
    if (values.status !== undefined) fields[FIELD.backupStatus] = values.status;
    const disable = flag(values.disable, 'disable');
    if (disable !== undefined) fields[FIELD.disableBackup] = disable;
    for (const f of values.field ?? []) {
      const eq = f.indexOf('=');
      if (eq < 1) die(`--field takes "Name=JSON value", got ${f}`);
      const raw = f.slice(eq + 1);
      try {
        fields[f.slice(0, eq)] = JSON.parse(raw);
      } catch {
        fields[f.slice(0, eq)] = raw;
      }
    }
    method = 'POST';
    target = '/v1/endpoints/status';
    body = {
      updates: [
        {
          endpointId: values.endpoint,
          companyId: values.company,
          siteId: values.site,
          observedAt: values['observed-at'] ?? new Date().toISOString(),
          ...(values.hostname ? { hostname: values.hostname } : { hostname: values.endpoint }),
          ...(values.os ? { osType: values.os } : {}),
          ...(values.type ? { endpointType: values.type } : {}),
          fields,
        },
      ],
    };
    break;
  }
  case 'company': {
    const [id] = args;
    if (!id) die('company needs an id');
    method = 'PUT';
    target = `/v1/companies/${enc(id)}`;
    body = {
      ...(values.name ? { name: values.name } : {}),
      fields: values.enable ? { [FIELD.enableBackup]: values.enable } : {},
    };
    break;
  }
  case 'site': {
    const [company, site] = args;
    if (!company || !site) die('site needs a company id and a site id');
    method = 'PUT';
    target = `/v1/companies/${enc(company)}/sites/${enc(site)}`;
    const disable = flag(values.disable, 'disable');
    body = {
      ...(values.name ? { name: values.name } : {}),
      fields: disable === undefined ? {} : { [FIELD.disableBackup]: disable },
    };
    break;
  }
  case 'webhook': {
    const [file] = args;
    if (!file) die('webhook needs a JSON file');
    method = 'POST';
    target = `/v1/webhooks/${enc(values.integration ?? 'generic')}`;
    body = JSON.parse(readFileSync(file, 'utf8'));
    break;
  }
  case 'key': {
    const [action, company, keyId] = args;
    if (!company) die('key needs create, list or revoke, and a company id');
    target = `/v1/companies/${enc(company)}/keys`;
    if (action === 'create') {
      method = 'POST';
      body = {
        ...(values.site ? { siteId: values.site } : {}),
        ...(values.description ? { description: values.description } : {}),
      };
    } else if (action === 'revoke') {
      if (!keyId) die('key revoke needs a company id and a key id');
      method = 'DELETE';
      target += `/${enc(keyId)}`;
    } else if (action !== 'list') die(`Unknown key action ${action}`);
    break;
  }
  case 'group': {
    const [id, file] = args;
    if (!id || !file) die('group needs an id and a JSON file');
    method = 'PUT';
    target = `/v1/groups/${enc(id)}`;
    body = JSON.parse(readFileSync(file, 'utf8'));
    break;
  }
  case 'field': {
    const [level, name, file] = args;
    if (!level || !name || !file) die('field needs a level, a name and a JSON file');
    method = 'PUT';
    target = `/v1/fields/${enc(level)}/${enc(name)}`;
    body = JSON.parse(readFileSync(file, 'utf8'));
    break;
  }
  case 'import': {
    const [fieldsFile, groupsFile] = args;
    if (!fieldsFile) die('import needs a fields file (and a groups file)');
    const read = (file: string | undefined) =>
      file === undefined || file === '-' ? undefined : JSON.parse(readFileSync(file, 'utf8'));
    method = 'POST';
    target = '/v1/import';
    body = { fields: read(fieldsFile), groups: read(groupsFile), apply: values.apply ?? false };
    break;
  }
  case 'lint': {
    const [id] = args;
    if (!id) die('lint needs a group id');
    method = 'POST';
    target = `/v1/groups/${enc(id)}/lint`;
    body = {};
    break;
  }
  case 'get':
  case 'delete': {
    const [path] = args;
    if (!path?.startsWith('/')) die(`${command} needs a path starting with /`);
    method = command.toUpperCase();
    target = path;
    break;
  }
  case 'raw': {
    const [m, path, json] = args;
    if (!m || !path) die('raw needs METHOD and PATH');
    method = m.toUpperCase();
    target = path;
    body = json === undefined ? undefined : json;
    break;
  }
  default:
    die(`Unknown command ${command}`);
}

if (values.bearer && !(values.key ?? process.env.KEYWATCH_KEY)) die('--bearer needs --key (or KEYWATCH_KEY)');
const { url, secret } = connection(values.key ?? process.env.KEYWATCH_KEY);
try {
  const res = await createClient({ url, secret, bearer: values.bearer ?? false }).request(
    method,
    target,
    body,
  );
  console.log(`${method} ${target} → ${res.status}`);
  console.log(typeof res.body === 'string' ? res.body : JSON.stringify(res.body, null, 2));
  process.exit(res.status >= 400 ? 1 : 0);
} catch (e: unknown) {
  console.error(
    `Could not reach ${url}: ${e instanceof Error ? e.message : String(e)} (is \`npm start\` running?)`,
  );
  process.exit(1);
}
