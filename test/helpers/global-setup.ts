// vitest globalSetup: one DynamoDB Local for the whole run. Test files reach it through
// `inject('dynamodbEndpoint')` (or DYNAMODB_ENDPOINT) and isolate themselves with `freshTable()`.
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamodb = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  process.env.DYNAMODB_ENDPOINT = dynamodb.endpoint;
  return async () => {
    await dynamodb.stop();
  };
}
