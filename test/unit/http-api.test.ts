// The shared HTTP chain with API Gateway's decoded rawPath: what is accepted as the signed target.
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { sign } from '#core/signing.ts';
import { createApiHandler } from '#http/api.ts';
import { lambdaContext } from '#local/lambda-context.ts';

const SECRET = 'unit-secret';
const logger = new Logger({ serviceName: 'keywatch-test', logLevel: 'SILENT' });

function handlerWith(pathArrivesDecoded: boolean) {
  return createApiHandler({
    secrets: async () => [SECRET],
    logger,
    pathArrivesDecoded,
    routes: { getEndpoint: async (req) => ({ status: 200, body: { id: req.params.endpointId } }) },
  });
}

function event(rawPath: string, signedTarget: string): APIGatewayProxyEventV2 {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: {
      'x-keywatch-timestamp': ts,
      'x-keywatch-signature': sign(SECRET, ts, 'GET', signedTarget, ''),
    },
    requestContext: { http: { method: 'GET', path: rawPath } } as APIGatewayProxyEventV2['requestContext'],
    isBase64Encoded: false,
  };
}

async function call(decoded: boolean, rawPath: string, signedTarget: string) {
  const res = (await handlerWith(decoded)(
    event(rawPath, signedTarget),
    lambdaContext('test'),
  )) as APIGatewayProxyStructuredResultV2;
  return { status: res.statusCode, body: res.body === undefined ? undefined : JSON.parse(res.body) };
}

describe('signed request target behind API Gateway (decoded rawPath)', () => {
  it('accepts the canonical encoding the client signed', async () => {
    // The client sent /v1/endpoints/caf%C3%A9 and signed it; API Gateway delivers it decoded.
    const res = await call(true, '/v1/endpoints/café', '/v1/endpoints/caf%C3%A9');

    expect(res).toEqual({ status: 200, body: { id: 'café' } });
  });

  it('accepts a path that needed no encoding', async () => {
    expect((await call(true, '/v1/endpoints/LAPTOP-042', '/v1/endpoints/LAPTOP-042')).status).toBe(200);
  });

  it('does not decode parameters a second time', async () => {
    const res = await call(true, '/v1/endpoints/100%', '/v1/endpoints/100%25');

    expect(res).toEqual({ status: 200, body: { id: '100%' } });
  });
});

describe('signed request target where the path arrives as sent', () => {
  it('accepts only the path exactly as sent', async () => {
    expect((await call(false, '/v1/endpoints/caf%C3%A9', '/v1/endpoints/caf%C3%A9')).status).toBe(200);
    expect((await call(false, '/v1/endpoints/caf%C3%A9', '/v1/endpoints/café')).status).toBe(401);
  });
});

describe('ingest-key look-up on a cold instance', () => {
  /** Records what authentication asks of the ingest keys, and in which order. */
  function recordingKeys() {
    const calls: string[] = [];
    return {
      calls,
      keys: {
        prepareSigning: () => calls.push('prepareSigning'),
        find: async (keyId: string) => {
          calls.push(`find ${keyId}`);
          return undefined;
        },
        used: async () => {},
      },
    };
  }

  function statusEvent(headers: Record<string, string>): APIGatewayProxyEventV2 {
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v1/endpoints/status',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', ...headers },
      requestContext: {
        http: { method: 'POST', path: '/v1/endpoints/status' },
      } as APIGatewayProxyEventV2['requestContext'],
      body: '{"updates":[]}',
      isBase64Encoded: false,
    };
  }

  const keyId = '0123456789abcdef';

  it('asks a signed request to prepare unsealing before it reads the key, so the two overlap', async () => {
    const { calls, keys } = recordingKeys();
    const handler = createApiHandler({ secrets: async () => [SECRET], ingestKeys: keys, logger, routes: {} });
    const ts = String(Math.floor(Date.now() / 1000));

    const res = (await handler(
      statusEvent({
        'x-keywatch-key-id': keyId,
        'x-keywatch-timestamp': ts,
        'x-keywatch-signature': sign('kwk_whatever', ts, 'POST', '/v1/endpoints/status', '{"updates":[]}'),
      }),
      lambdaContext('test'),
    )) as APIGatewayProxyStructuredResultV2;

    expect(res.statusCode).toBe(401);
    expect(calls).toEqual(['prepareSigning', `find ${keyId}`]);
  });

  it('prepares nothing for a bearer key, which needs no unsealing', async () => {
    const { calls, keys } = recordingKeys();
    const handler = createApiHandler({ secrets: async () => [SECRET], ingestKeys: keys, logger, routes: {} });

    await handler(
      statusEvent({ authorization: `Bearer kwk_${keyId}_${'a'.repeat(43)}` }),
      lambdaContext('test'),
    );

    expect(calls).toEqual([`find ${keyId}`]);
  });
});
