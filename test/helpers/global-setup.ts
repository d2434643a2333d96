// vitest globalSetup: makes sure DynamoDB Local is downloaded and cached once, before any test file
// starts its own (test/helpers/dynamo.ts), so that parallel files never download it side by side.
import { ensureDynamoDbLocal } from '#local/dynamodb-local-install.ts';

export default async function setup(): Promise<void> {
  await ensureDynamoDbLocal();
}
