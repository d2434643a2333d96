// A loopback stand-in for the AWS endpoints a function's first request calls, for the bundles
// benchmark's first-invocation timing only (never used by tests: they run against DynamoDB Local).
// The bundles run unchanged; AWS_ENDPOINT_URL points their SDK clients here. It answers the few
// operations those requests make, from a small in-memory item map for DynamoDB reads (writes are
// acknowledged and forgotten), so the measured time is the function's own work, not a network's.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

type Marshalled = Record<string, AttributeValue>;

export interface AwsStub {
  readonly url: string;
  /** Operations answered so far, e.g. `DynamoDB_20120810.UpdateItem`, `sns.Publish`. */
  readonly calls: string[];
  close(): Promise<void>;
}

export interface AwsStubData {
  /** Items GetItem, BatchGetItem and Query (by partition) return. */
  readonly items: readonly Marshalled[];
  /** SecretString of every GetSecretValue. */
  readonly secret: string;
  /** Plaintext (UTF-8) of every KMS Decrypt. */
  readonly decrypted: string;
}

const keyOf = (item: Marshalled) => `${item.PK?.S}\u0000${item.SK?.S}`;

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.once('end', () => resolve(body));
    req.once('error', reject);
  });
}

/** `current` is read on every request, so the data can change between runs (fresh keys, say). */
export async function startAwsStub(current: () => AwsStubData): Promise<AwsStub> {
  const calls: string[] = [];

  const dynamodb = (op: string, input: Record<string, unknown>, data: AwsStubData): unknown => {
    const byKey = new Map(data.items.map((i) => [keyOf(i), i]));
    switch (op) {
      case 'GetItem': {
        const item = byKey.get(keyOf(input.Key as Marshalled));
        return item === undefined ? {} : { Item: item };
      }
      case 'BatchGetItem': {
        const requests = input.RequestItems as Record<string, { Keys: Marshalled[] }>;
        const Responses = Object.fromEntries(
          Object.entries(requests).map(([table, r]) => [
            table,
            r.Keys.map((k) => byKey.get(keyOf(k))).filter((i) => i !== undefined),
          ]),
        );
        return { Responses, UnprocessedKeys: {} };
      }
      case 'Query': {
        // Base-table queries by partition; index queries find nothing here.
        const values = Object.values((input.ExpressionAttributeValues ?? {}) as Marshalled);
        const partitions = new Set(values.map((v) => v.S));
        const Items = input.IndexName === undefined ? data.items.filter((i) => partitions.has(i.PK?.S)) : [];
        return input.Select === 'COUNT'
          ? { Count: Items.length, ScannedCount: Items.length }
          : { Items, Count: Items.length, ScannedCount: Items.length };
      }
      default:
        // Writes: acknowledged (PutItem, UpdateItem, DeleteItem, TransactWriteItems).
        return {};
    }
  };

  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    const data = current();
    const target = req.headers['x-amz-target'];
    let status = 200;
    let type = 'application/x-amz-json-1.0';
    let out: string;
    if (typeof target === 'string') {
      calls.push(target);
      const [service, op = ''] = target.split('.');
      const input = JSON.parse(body || '{}') as Record<string, unknown>;
      if (service === 'DynamoDB_20120810') out = JSON.stringify(dynamodb(op, input, data));
      else if (target === 'secretsmanager.GetSecretValue') {
        type = 'application/x-amz-json-1.1';
        out = JSON.stringify({
          ARN: input.SecretId,
          Name: 'bench',
          SecretString: data.secret,
          VersionId: 'v1',
        });
      } else if (target === 'TrentService.Decrypt') {
        type = 'application/x-amz-json-1.1';
        out = JSON.stringify({
          KeyId: input.KeyId,
          Plaintext: Buffer.from(data.decrypted, 'utf8').toString('base64'),
        });
      } else {
        status = 400;
        out = JSON.stringify({ __type: 'UnknownOperationException', message: target });
      }
    } else if (body.includes('Action=Publish')) {
      // SNS speaks the AWS query protocol.
      calls.push('sns.Publish');
      type = 'text/xml';
      out =
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>bench-1</MessageId></PublishResult><ResponseMetadata><RequestId>bench-r</RequestId></ResponseMetadata></PublishResponse>';
    } else {
      status = 400;
      out = JSON.stringify({ message: 'unknown request' });
    }
    res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': 'bench' });
    res.end(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
