// Counts DynamoDB requests by operation at the SDK boundary (a middleware on the real client).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export function countRequests(client: DynamoDBClient) {
  const counts = new Map<string, number>();
  /** The index each Query read (`table` for the base table), in order. */
  const queried: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.set(op, (counts.get(op) ?? 0) + 1);
      if (op === 'Query') queried.push(String((args.input as { IndexName?: string }).IndexName ?? 'table'));
      return next(args);
    },
    { step: 'initialize', name: 'keywatchRequestCounter' },
  );
  return {
    snapshot: () => Object.fromEntries(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    queried: () => [...queried],
    reset: () => {
      counts.clear();
      queried.length = 0;
    },
  };
}
