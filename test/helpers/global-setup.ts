// vitest globalSetup: makes sure DynamoDB Local is downloaded and cached once (so parallel files never
// download it side by side), then keeps a pool of JVMs started ahead of the files that need them
// (dynamo-pool.ts), one per worker; files find it through `inject('dynamoPool')`.
import type { TestProject } from 'vitest/node';
import { ensureDynamoDbLocal } from '#local/dynamodb-local-install.ts';
import { startDynamoPool } from './dynamo-pool.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoPool: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureDynamoDbLocal();
  const workers = Math.max(1, Number(project.config.maxWorkers) || 1);
  const pool = await startDynamoPool(workers);
  project.provide('dynamoPool', pool.url);
  return () => pool.close();
}
