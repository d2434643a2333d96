// Lambda entry for the evaluate function (table stream + minute tick).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { intEnv, requireEnv } from '#adapters/config.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { createJobStore } from '#adapters/job-store.ts';
import { createMembershipWriter } from '#adapters/membership-writer.ts';
import { createRepository } from '#adapters/repository.ts';
import { createTallyStore } from '#adapters/tally-store.ts';
import { createEvaluateHandler } from './app.ts';
import { createEvaluator } from './evaluate.ts';

const tableName = requireEnv('TABLE_NAME');
const doc = documentClient(createDynamoClient());
const logger = new Logger({ serviceName: 'keywatch' });
const metrics = new Metrics({ serviceName: 'keywatch-evaluate' });

export const handler = createEvaluateHandler({
  logger,
  metrics,
  tally: createTallyStore(doc, tableName),
  evaluator: createEvaluator({
    groups: createGroupStore(doc, tableName),
    endpoints: createRepository(doc, tableName),
    fleet: createFleetPager(doc, tableName),
    writer: createMembershipWriter(doc, tableName),
    jobs: createJobStore(doc, tableName),
    nowMs: Date.now,
    logger,
    count: (metric, value = 1) => {
      if (value > 0) metrics.addMetric(metric, MetricUnit.Count, value);
    },
    config: {
      groupCacheMs: intEnv('GROUP_CACHE_MS', 5_000),
      fleetDelayMs: intEnv('FLEET_JOB_DELAY_MS', intEnv('GROUP_CACHE_MS', 5_000)),
    },
  }),
});
