// The one way keywatch builds a Lambda function: Node 24 on arm64, an ESM bundle built by the
// project's own esbuild, X-Ray tracing, its own log group with retention, and a role that starts
// with nothing but "write to that log group". Everything else is granted through the bind* methods,
// which set the environment variable and the permission in one call so they cannot drift apart.
import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ALIASES, ESM_REQUIRE_BANNER, EXTERNAL_MODULES } from './bundling.ts';
import { parseFlag } from './context.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FUNCTIONS_ROOT = fileURLToPath(new URL('../functions/', import.meta.url));

/** Shared by every function; a caller's `environment` is merged over it, never replaced. */
export const BASE_ENVIRONMENT: Readonly<Record<string, string>> = {
  POWERTOOLS_SERVICE_NAME: 'keywatch',
  POWERTOOLS_METRICS_NAMESPACE: 'Keywatch',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/**
 * Only with `-c sourceMaps=true`: stack traces in the logs then point at the TypeScript source, but
 * Node reads the bundle's whole map at every cold start: about 6 ms of CPU time of a 180 ms init,
 * and module init 1.19–1.25× the minimal bundle's instead of 1.07–1.19× (decisions §29). The maps
 * are deployed either way.
 */
export const SOURCE_MAPS_ENVIRONMENT: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps',
};

export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:TransactWriteItems';

export interface KeywatchFunctionProps {
  /** Folder under `functions/` whose `handler.ts` exports `handler`. */
  readonly name: string;
  readonly description: string;
  /** Required so every function states its own choice (and its reason) at the call site. */
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment?: Readonly<Record<string, string>>;
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted (kept in prod, removed in dev). */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Where the function folders live; tests may point it elsewhere. Defaults to `functions/`. */
  readonly functionsRoot?: string;
}

export class KeywatchFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: KeywatchFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // An explicit role instead of the default one with AWSLambdaBasicExecutionRole: that managed
    // policy lets the function write to any log group in the account; this one writes to its own.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `keywatch ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const functionsRoot = props.functionsRoot ?? FUNCTIONS_ROOT;
    this.function = new NodejsFunction(this, 'Function', {
      entry: `${functionsRoot.replace(/\/$/, '')}/${props.name}/handler.ts`,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      // Graviton: about 20 % cheaper per GB-second than x86 and at least as fast for this JSON work.
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        ...BASE_ENVIRONMENT,
        ...(parseFlag('sourceMaps', this.node.tryGetContext('sourceMaps')) ? SOURCE_MAPS_ENVIRONMENT : {}),
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        // Prefer the ESM build of dependencies: it tree-shakes far better than their CJS build.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // The map only needs to translate positions; the TypeScript source is in the repository.
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        esbuildArgs: Object.fromEntries(Object.entries(ALIASES).map(([from, to]) => [`--alias:${from}`, to])),
        // The AWS SDK v3 is left out and taken from the nodejs24.x runtime. Measured with this
        // configuration: bundling it makes ingest 491 KB and notify 496 KB instead of 90 KB and
        // 117 KB, over the 400 KB budget; the price is that the runtime's SDK version, not the
        // lock file's, runs in Lambda (v3 keeps compatibility within its major version).
        // Details in docs/deploy.md, "Bundling".
        externalModules: EXTERNAL_MODULES,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only for actions that have no resource-level permissions: xray:PutTraceSegments / PutTelemetryRecords (active tracing) and, on stream consumers, dynamodb:ListStreams. Every other statement names its resource.',
    });
  }

  get functionName(): string {
    return this.function.functionName;
  }

  /**
   * Sets TABLE_NAME and allows exactly `actions` on the table. `indexes` names the indexes the
   * function may Query (their ARNs are listed one by one: no wildcard); `leadingKeys` limits the items
   * to partition keys matching these patterns. Nothing is granted implicitly.
   */
  bindTable(
    table: ITable,
    actions: readonly TableAction[],
    options: { indexes?: readonly string[]; leadingKeys?: readonly string[] } = {},
  ): this {
    this.function.addEnvironment('TABLE_NAME', table.tableName);
    const leading = options.leadingKeys;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'Table',
        actions: [...actions],
        resources: [table.tableArn],
        // Partition-key prefixes the function may touch (dynamodb:LeadingKeys), when it is that narrow.
        ...(leading === undefined
          ? {}
          : { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...leading] } } }),
      }),
    );
    const indexes = options.indexes ?? [];
    if (indexes.length > 0) {
      if (!actions.includes('dynamodb:Query'))
        throw new Error(`${this.node.path}: indexes need dynamodb:Query`);
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'TableIndexes',
          actions: ['dynamodb:Query'],
          resources: indexes.map((name) => `${table.tableArn}/index/${name}`),
        }),
      );
    }
    return this;
  }

  /** Sets SECRET_ARN and allows reading that one secret's value (the signing secrets). */
  bindSecret(secret: ISecret): this {
    this.function.addEnvironment('SECRET_ARN', secret.secretArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSigningSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.secretArn],
      }),
    );
    secret.encryptionKey?.grantDecrypt(this.role);
    return this;
  }

  /**
   * Sets KEY_SEAL_KMS_KEY_ARN and allows the given KMS actions on that key: `kms:Encrypt` to seal new
   * ingest keys, `kms:Decrypt` to open them for signature checks, only with the encryption context
   * keywatch binds (key id and company).
   */
  bindKeySeal(key: IKey, actions: readonly ('kms:Encrypt' | 'kms:Decrypt')[]): this {
    this.function.addEnvironment('KEY_SEAL_KMS_KEY_ARN', key.keyArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IngestKeySeal',
        actions: [...actions],
        resources: [key.keyArn],
        conditions: {
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyId', 'companyId'] },
          Null: { 'kms:EncryptionContextKeys': 'false' },
        },
      }),
    );
    return this;
  }

  /**
   * Sets ALERT_TOPIC_ARN and allows publishing to that topic, with the two KMS actions SNS needs on
   * the topic's key to accept an encrypted publish (spelled out rather than `kms:GenerateDataKey*`).
   */
  bindAlertTopic(topic: ITopic, key: IKey): this {
    this.function.addEnvironment('ALERT_TOPIC_ARN', topic.topicArn);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishAlerts',
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptAlerts',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
    return this;
  }
}
