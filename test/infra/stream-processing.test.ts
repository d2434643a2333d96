// The stream consumers as deployed: what the synthesized event filters let through, the mapping
// settings with the values the stack states, and that `npm start` runs the same mappings.
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { ITEM, WRITER } from '#adapters/keys.ts';
import type { KeywatchFunction } from '#infra/function.ts';
import { streamConsumers } from '#local/pipeline.ts';
import { type FilterPattern, passesFilters } from '#local/stream-filter.ts';
import { streamRecord } from '#test/helpers/stream.ts';
import { DENIES_INSECURE_TRANSPORT, idIn, type Synthesized, synth } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synth();
});

const idOf = (fn: KeywatchFunction) => idIn(s, fn.function);

/** The properties of the event source mapping that invokes `fn`. */
function mappingOf(
  fn: KeywatchFunction,
): Record<string, unknown> & { FilterCriteria: { Filters: { Pattern: string }[] } } {
  const mappings = Object.values(s.template.findResources('AWS::Lambda::EventSourceMapping')).filter(
    (m) => m.Properties.FunctionName.Ref === idOf(fn),
  );
  expect(mappings).toHaveLength(1);
  return mappings[0]?.Properties;
}

/** The deployed filter patterns of `fn`, as Lambda reads them from the template. */
const deployedFilters = (fn: KeywatchFunction): FilterPattern[] =>
  mappingOf(fn).FilterCriteria.Filters.map((f) => JSON.parse(f.Pattern) as FilterPattern);

type Image = Record<string, AttributeValue>;
const endpoint = (writer: string): Image => ({ type: { S: ITEM.endpoint }, writer: { S: writer } });
const typed = (type: string): Image => ({ type: { S: type } });
const transition = (alert: boolean): Image => ({ type: { S: ITEM.transition }, alert: { BOOL: alert } });

describe('the deployed evaluate filter', () => {
  const passes = (r: DynamoDBRecord) => passesFilters(r, deployedFilters(s.stack.processing.evaluate));

  it('lets through an endpoint change reported through ingest, new or updated', () => {
    expect(passes(streamRecord('INSERT', { NewImage: endpoint(WRITER.ingest) }))).toBe(true);
    expect(
      passes(
        streamRecord('MODIFY', { NewImage: endpoint(WRITER.ingest), OldImage: endpoint(WRITER.evaluate) }),
      ),
    ).toBe(true);
  });

  it("holds back the evaluator's own write of an endpoint's groups", () => {
    expect(
      passes(
        streamRecord('MODIFY', { NewImage: endpoint(WRITER.evaluate), OldImage: endpoint(WRITER.ingest) }),
      ),
    ).toBe(false);
  });

  it('lets through companies, sites, groups, jobs and the deletion of a group', () => {
    for (const type of [ITEM.company, ITEM.site, ITEM.group, ITEM.job]) {
      expect(passes(streamRecord('MODIFY', { NewImage: typed(type) })), type).toBe(true);
    }
    expect(passes(streamRecord('REMOVE', { OldImage: typed(ITEM.group) }))).toBe(true);
  });

  it('holds back memberships, transitions, other deletions and idempotency records', () => {
    expect(passes(streamRecord('INSERT', { NewImage: typed(ITEM.member) }))).toBe(false);
    expect(passes(streamRecord('INSERT', { NewImage: transition(true) }))).toBe(false);
    expect(passes(streamRecord('REMOVE', { OldImage: endpoint(WRITER.ingest) }))).toBe(false);
    expect(passes(streamRecord('INSERT', { NewImage: { status: { S: 'COMPLETED' } } }))).toBe(false);
  });
});

describe('the deployed notify filter', () => {
  const passes = (r: DynamoDBRecord) => passesFilters(r, deployedFilters(s.stack.processing.notify));

  it('lets through a newly recorded transition whose group alerts', () => {
    expect(passes(streamRecord('INSERT', { NewImage: transition(true) }))).toBe(true);
  });

  it('holds back unalerted, rewritten or expired transitions and everything else', () => {
    expect(passes(streamRecord('INSERT', { NewImage: transition(false) }))).toBe(false);
    expect(passes(streamRecord('MODIFY', { NewImage: transition(true), OldImage: transition(true) }))).toBe(
      false,
    );
    expect(passes(streamRecord('REMOVE', { OldImage: transition(true) }))).toBe(false);
    expect(passes(streamRecord('INSERT', { NewImage: endpoint(WRITER.ingest) }))).toBe(false);
  });
});

describe('stream event source mappings', () => {
  const common = () => ({
    EventSourceArn: { 'Fn::GetAtt': [idIn(s, s.stack.storage.table), 'StreamArn'] },
    StartingPosition: 'TRIM_HORIZON',
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: true,
    MaximumBatchingWindowInSeconds: 0,
    MaximumRetryAttempts: 5,
    MaximumRecordAgeInSeconds: 3600,
  });

  it.each([
    ['evaluate', 50, 4],
    ['notify', 10, 2],
  ] as const)(
    'feed %s %i records at a time, %i batches per shard, parking failures in its own queue',
    (name, batch, parallel) => {
      const { processing } = s.stack;
      const queue = name === 'evaluate' ? processing.evaluateFailures : processing.notifyFailures;

      expect(mappingOf(processing[name])).toMatchObject({
        ...common(),
        BatchSize: batch,
        ParallelizationFactor: parallel,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [idIn(s, queue), 'Arn'] } } },
      });
    },
  );

  it('parks failures in encrypted, TLS-only queues', () => {
    s.template.resourceCountIs('AWS::SQS::Queue', 2);
    s.template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    s.template.resourcePropertiesCountIs('AWS::SQS::QueuePolicy', DENIES_INSECURE_TRANSPORT, 2);
  });

  it('invokes evaluate every minute with the tick payload', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [idOf(s.stack.processing.evaluate), 'Arn'] },
          Input: JSON.stringify({ source: 'keywatch.tick' }),
        }),
      ],
    });
  });
});

describe('npm start', () => {
  it('feeds its stream consumers exactly as the deployed mappings feed the functions', () => {
    const handler = async () => undefined;
    const local = Object.fromEntries(
      streamConsumers({ evaluate: handler, notify: handler }).map((c) => [c.name, c]),
    );
    const deployed = { evaluate: s.stack.processing.evaluate, notify: s.stack.processing.notify };

    for (const [name, fn] of Object.entries(deployed)) {
      const m = mappingOf(fn);
      const timeout = s.template.toJSON().Resources[idOf(fn)].Properties.Timeout;
      expect(local[name], name).toMatchObject({
        batchSize: m.BatchSize,
        parallelizationFactor: m.ParallelizationFactor,
        maxBatchingWindowSeconds: m.MaximumBatchingWindowInSeconds,
        startingPosition: m.StartingPosition,
        reportBatchItemFailures: (m.FunctionResponseTypes as string[]).includes('ReportBatchItemFailures'),
        bisectBatchOnError: m.BisectBatchOnFunctionError,
        retryAttempts: m.MaximumRetryAttempts,
        maxRecordAgeSeconds: m.MaximumRecordAgeInSeconds,
        timeoutSeconds: timeout,
      });
      expect(local[name]?.filters, name).toEqual(deployedFilters(fn));
    }
  });

  it('loads neither aws-cdk-lib nor constructs, though it shares the stack settings', async () => {
    const result = await build({
      entryPoints: [join(import.meta.dirname, '../../local/start.ts')],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'silent',
    });
    const inputs = result.metafile.inputs;
    const packages = Object.values(inputs).flatMap((i) =>
      i.imports.filter((x) => x.external).map((x) => x.path),
    );

    expect(Object.keys(inputs)).toContain('infra/stream-settings.ts');
    expect(packages).toContain('@aws-sdk/client-dynamodb-streams');
    expect(packages.filter((p) => /^(aws-cdk-lib|constructs)(\/|$)/.test(p))).toEqual([]);
  });
});
