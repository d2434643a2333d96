// Counts DynamoDB requests by operation at the SDK boundary (a middleware on the real client).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export function countRequests(client: DynamoDBClient) {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.set(op, (counts.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'keywatchRequestCounter' },
  );
  return {
    snapshot: () => Object.fromEntries(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
  };
}
