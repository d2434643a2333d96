// The first request each function gets after a cold start, for the bundles benchmark: the event, what
// the loopback AWS stub must hold for it to succeed, and how to tell that it did. Each is the common
// case of its function: an endpoint script's key-signed report (ingest), the same report signed with
// the admin secret (ingest, the other credential), the group list (admin), a report that moves an
// endpoint into a group (evaluate), and an alerted transition (notify).
import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { fieldItem } from '../functions/adapters/field-store.ts';
import { groupItem } from '../functions/adapters/group-store.ts';
import { FIELD_ATTR_PREFIX, ITEM, keys, WRITER } from '../functions/adapters/keys.ts';
import { shippedGroupDefinitions } from '../functions/core/group-pack.ts';
import { generateIngestKey, hashIngestKey } from '../functions/core/ingest-key.ts';
import { instantKey } from '../functions/core/instant.ts';
import { SHIPPED_FIELDS } from '../functions/core/shipped-catalogue.ts';
import { sign } from '../functions/core/signing.ts';
import type { AwsStubData } from './aws-stub.ts';

export const BENCH_ADMIN_SECRET = 'bench-admin-secret';
const STATUS = 'BitLocker Key Backup Status';
const FAILED = '| C: - FAILED - 123456-789012; Azure AD |';
const BACKED_UP = '| All BitLocker keys are backed up successfully. |';

export interface FirstRequest {
  readonly name: string;
  /** The function (bundle) that serves it. */
  readonly fn: 'ingest' | 'admin' | 'evaluate' | 'notify';
  readonly event: unknown;
  /** What the handler must answer: an HTTP status, or a stream batch with no failed record. */
  readonly expect: { readonly statusCode: number } | { readonly batchItemFailures: 0 };
  /** AWS operations the request must have made (a request that stopped early measures nothing). */
  readonly calls: readonly string[];
}

type Item = Record<string, AttributeValue>;
const item = (value: Record<string, unknown>): Item => marshall(value, { removeUndefinedValues: true });

function httpEvent(method: string, rawPath: string, headers: Record<string, string>, body?: string) {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'bench.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'bench',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'bench' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

function signed(secret: string, method: string, path: string, body = '', extra: Record<string, string> = {}) {
  const ts = String(Math.floor(Date.now() / 1000));
  return httpEvent(
    method,
    path,
    { 'x-keywatch-timestamp': ts, 'x-keywatch-signature': sign(secret, ts, method, path, body), ...extra },
    body === '' ? undefined : body,
  );
}

function endpointImage(rev: number, status: string, observedAt: string): Item {
  return item({
    ...keys.endpoint('LAPTOP-042'),
    type: ITEM.endpoint,
    endpointId: 'LAPTOP-042',
    companyId: 'contoso',
    siteId: 'hq',
    hostname: 'LAPTOP-042',
    osType: 'Windows',
    endpointType: 'Laptop',
    observedAt,
    observedAtMs: Date.parse(observedAt),
    observedKey: instantKey(observedAt),
    [`${FIELD_ATTR_PREFIX}${STATUS}`]: status,
    groups: { 'bitlocker-key-backup-enabled': '2026-01-01T00:00:00.000Z' },
    groupsCompanyId: 'contoso',
    rev,
    grev: rev,
    mrev: rev - 1,
    writer: WRITER.ingest,
  });
}

/** Fresh events (signatures carry the current time) and the stub data they need. */
export function firstRequests(): { requests: FirstRequest[]; data: AwsStubData } {
  const { keyId, key } = generateIngestKey();
  const nowIso = new Date().toISOString();
  const items: Item[] = [
    item({
      ...keys.ingestKey(keyId),
      type: ITEM.ingestKey,
      keyId,
      companyId: 'contoso',
      siteId: 'hq',
      hash: hashIngestKey(keyId, key),
      sealed: Buffer.from('sealed by KMS').toString('base64'),
      createdAt: nowIso,
    }),
    item({
      ...keys.company('contoso'),
      type: ITEM.company,
      companyId: 'contoso',
      name: 'Contoso',
      rev: 1,
      'F#Enable BitLocker Key Backup': 'Windows Workstation and Server',
    }),
    item({
      ...keys.site('contoso', 'hq'),
      type: ITEM.site,
      companyId: 'contoso',
      siteId: 'hq',
      name: 'HQ',
      rev: 1,
    }),
    ...shippedGroupDefinitions().map((g) => item(groupItem(g, '2026-01-01T00:00:00.000Z'))),
    // The field catalogue is stored data, seeded at deploy: ingest validates reports against it.
    ...SHIPPED_FIELDS.map((f) => item(fieldItem(f, '2026-01-01T00:00:00.000Z'))),
  ];

  const report = JSON.stringify({
    updates: [
      {
        endpointId: 'LAPTOP-042',
        companyId: 'contoso',
        siteId: 'hq',
        hostname: 'LAPTOP-042',
        osType: 'Windows',
        endpointType: 'Laptop',
        observedAt: nowIso,
        fields: { [STATUS]: FAILED },
      },
    ],
  });
  const earlier = new Date(Date.now() - 86_400_000).toISOString();
  const transition = {
    transitionId: `tr-${randomUUID()}`,
    groupId: 'bitlocker-key-backup-failed',
    groupName: 'BitLocker Key Backup Failed',
    endpointId: 'LAPTOP-042',
    hostname: 'LAPTOP-042',
    companyId: 'contoso',
    siteId: 'hq',
    companyName: 'Contoso',
    siteName: 'HQ',
    event: 'entered',
    occurredAt: nowIso,
    alert: true,
    severity: 'high',
    fields: { [`ENDPOINT:${STATUS}`]: FAILED },
    statusText: FAILED,
  };
  const record = (eventName: 'INSERT' | 'MODIFY', images: { NewImage: Item; OldImage?: Item }) => ({
    eventID: randomUUID(),
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: { PK: images.NewImage.PK, SK: images.NewImage.SK },
      SequenceNumber: '100',
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      ...images,
    },
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/keywatch-bench/stream/bench',
  });

  const requests: FirstRequest[] = [
    {
      name: 'ingest (key)',
      fn: 'ingest',
      event: signed(key, 'POST', '/v1/endpoints/status', report, { 'x-keywatch-key-id': keyId }),
      expect: { statusCode: 200 },
      calls: ['DynamoDB_20120810.GetItem', 'TrentService.Decrypt', 'DynamoDB_20120810.UpdateItem'],
    },
    {
      name: 'ingest (admin)',
      fn: 'ingest',
      event: signed(BENCH_ADMIN_SECRET, 'POST', '/v1/endpoints/status', report),
      expect: { statusCode: 200 },
      calls: ['secretsmanager.GetSecretValue', 'DynamoDB_20120810.UpdateItem'],
    },
    {
      name: 'admin',
      fn: 'admin',
      event: signed(BENCH_ADMIN_SECRET, 'GET', '/v1/groups'),
      expect: { statusCode: 200 },
      calls: ['secretsmanager.GetSecretValue', 'DynamoDB_20120810.Query'],
    },
    {
      name: 'evaluate',
      fn: 'evaluate',
      event: {
        Records: [
          record('MODIFY', {
            OldImage: endpointImage(1, BACKED_UP, earlier),
            NewImage: endpointImage(2, FAILED, nowIso),
          }),
        ],
      },
      expect: { batchItemFailures: 0 },
      calls: ['DynamoDB_20120810.Query', 'DynamoDB_20120810.TransactWriteItems'],
    },
    {
      name: 'notify',
      fn: 'notify',
      event: {
        Records: [
          record('INSERT', {
            NewImage: item({
              ...keys.transition('LAPTOP-042', nowIso, transition.transitionId),
              type: ITEM.transition,
              ...transition,
            }),
          }),
        ],
      },
      expect: { batchItemFailures: 0 },
      calls: ['DynamoDB_20120810.PutItem', 'sns.Publish'],
    },
  ];
  return { requests, data: { items, secret: BENCH_ADMIN_SECRET, decrypted: key } };
}
