// The signed HTTP API: an HTTP API (REST's extras — API keys, usage plans, request validation — are
// not needed: every request is HMAC-signed and validated by the handler, and HTTP APIs cost
// $1.00 instead of $3.50 per million requests) in front of two functions, split by credential:
//
//   ingest  status reports, the only routes an ingest key may call
//   admin   everything else through `$default`, so unknown paths and methods still reach code that
//           checks the credential first and then answers 404 / 405 in the API's own error shape.
//
// The 1 MiB body limit (413) is enforced by the handlers: HTTP APIs accept up to 10 MB and have no
// setting to lower that.
import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ROUTES } from '#http/routes.ts';
import { INDEX } from '../functions/adapters/keys.ts';
import { KeywatchFunction } from './function.ts';

export interface ApiProps {
  readonly table: ITable;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly functionsRoot?: string;
  /** Production retains the key that seals ingest keys (without it, stored keys cannot sign). */
  readonly keyRemovalPolicy: RemovalPolicy;
}

/** Steady-state and burst request rates of the stage, per second, for the whole API. */
export const API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;

/**
 * HTTP API hands the function a percent-decoded `rawPath`; the handlers then also accept a signature
 * over the path's canonical encoding (docs/decisions.md §8). Locally the path arrives as sent and is
 * verified strictly.
 */
const API_ENVIRONMENT = { API_PATH_DECODED: 'true' } as const;

export class Api extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly secret: secretsmanager.Secret;
  readonly keySealKey: kms.Key;
  readonly ingest: KeywatchFunction;
  readonly admin: KeywatchFunction;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    // The signing secrets. The value is a comma-separated list of active secrets (rotation: add the
    // new one, move the senders over, remove the old one). Generated at deploy time, so it is never
    // in the template; the handlers read it once per cold start through Powertools parameters.
    this.secret = new secretsmanager.Secret(this, 'SigningSecret', {
      description: 'keywatch request-signing secrets: comma-separated list of currently valid values',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The signing secret is shared with RMM scripts and endpoint agents outside AWS, so a rotation Lambda cannot update the senders. Rotation is a documented manual procedure (docs/deploy.md) that the comma-separated list makes seamless: add the new value, move the senders, remove the old one.',
    });

    // Seals ingest keys at rest. Only admin may encrypt (create keys); both API functions may decrypt,
    // admin so that a signed ingest key on an admin route is told 403 rather than 401; both only with
    // keywatch's encryption context (docs/decisions.md §18).
    this.keySealKey = new kms.Key(this, 'IngestKeySealKey', {
      description: 'keywatch: seals per-company ingest keys stored in the table',
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy,
    });

    this.ingest = new KeywatchFunction(this, 'Ingest', {
      name: 'ingest',
      description: 'keywatch: status reports (admin credentials or ingest keys)',
      // 500 updates in one request are 500 single-item writes sent concurrently: well under 2 s.
      // 10 s bounds a stuck call far below the HTTP API's 30 s integration limit.
      timeout: Duration.seconds(10),
      // The work is waiting on DynamoDB (one write per update); parsing, validating and hashing a
      // 1 MiB body needs little CPU. 256 MB halves the GB-seconds billed for every status request
      // (ingest-cost bench) and the function holds one request at a time, so memory stays small.
      memorySize: 256,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: API_ENVIRONMENT,
      ...(props.functionsRoot === undefined ? {} : { functionsRoot: props.functionsRoot }),
    })
      // Every status update is a single UpdateItem; an ingest key is one GetItem per key per cache
      // TTL, and its last-used day one UpdateItem per day; the field catalogue one Query per
      // FIELD_CACHE_MS.
      .bindTable(props.table, ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query'], {
        // Only endpoint items (reports), ingest-key items (look-up, last-used day) and the field
        // catalogue (read): a compromised ingest function cannot touch groups, companies,
        // memberships or transitions.
        leadingKeys: ['ENDPOINT#*', 'KEY#*', 'FIELDS'],
      })
      .bindSecret(this.secret)
      .bindKeySeal(this.keySealKey, ['kms:Decrypt']);

    this.admin = new KeywatchFunction(this, 'Admin', {
      name: 'admin',
      description: 'keywatch: reads, groups, company and site upserts, and 404 / 405 for unknown routes',
      // Member lists page at most 500 items; a group PUT validates and writes one item.
      timeout: Duration.seconds(10),
      memorySize: 512,
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      environment: API_ENVIRONMENT,
      ...(props.functionsRoot === undefined ? {} : { functionsRoot: props.functionsRoot }),
    })
      .bindTable(
        props.table,
        [
          'dynamodb:GetItem',
          'dynamodb:BatchGetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:DeleteItem',
          // Company / site upserts; group changes bump the group set's revision in the same transaction.
          'dynamodb:UpdateItem',
        ],
        // GSI3: a company's endpoints for the status page (GET /v1/companies/{id}/endpoints);
        // GSI4: a group preview walks the fleet (at most 5,000 endpoints per request).
        { indexes: [INDEX.byParent, INDEX.byCollection, INDEX.endpointsByParent, INDEX.fleet] },
      )
      .bindSecret(this.secret)
      // Seals new keys; opens them only to tell an ingest key on an admin route 403 rather than 401.
      .bindKeySeal(this.keySealKey, ['kms:Encrypt', 'kms:Decrypt']);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    const adminIntegration = new HttpLambdaIntegration('AdminIntegration', this.admin.function);
    const ingestIntegration = new HttpLambdaIntegration('IngestIntegration', this.ingest.function);

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      // CloudFormation requires a name; API names need not be unique, and the stack name tells
      // the stages apart in the console.
      apiName: Stack.of(this).stackName,
      description: `keywatch signed API (${Stack.of(this).stackName})`,
      // The explicit stage below carries throttling and access logs.
      createDefaultStage: false,
      // `$default`: every request no other route matches goes to admin (credential, then 404 / 405).
      defaultIntegration: adminIntegration,
    });
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Every route is authenticated in the handler by an HMAC-SHA256 request signature with a timestamp (DESIGN §4): RMM scripts cannot obtain IAM credentials or JWTs, and a Lambda authorizer would only move the same check into a second billed invocation.',
    });
    // The ingest routes from the shared route table; everything else reaches admin through $default.
    for (const route of ROUTES.filter((r) => r.fn === 'ingest')) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: ingestIntegration,
      });
    }

    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // Protects the table's on-demand bill and the downstream pipeline from a runaway script;
      // a fleet of 10,000 endpoints reporting in batches needs a fraction of this.
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            path: '$context.path',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            error: '$context.error.message',
          }),
        ),
      },
    });
  }
}
