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
