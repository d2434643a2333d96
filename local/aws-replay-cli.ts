// The AWS mode of `npm run replay` (local/replay-cli.ts hands over when `--aws` is given): resolves the
// stack's on-failure queues and functions, replays each queue (local/aws-replay.ts), prints progress
// on stderr and a summary on stdout. Exit code 0 when every batch was replayed (or, in a dry run,
// could be), 1 when any is left in a queue, 2 for a usage error.

import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  type QueueBatchResult,
  REPLAY_FUNCTIONS,
  type ReplayFunction,
  type ReplayTarget,
  replayQueue,
  resolveStack,
} from './aws-replay.ts';

export const AWS_USAGE = `usage: npm run replay -- --aws --stack NAME [--function evaluate|notify|both] [--region R]
                      [--max N] [--dry-run] [--delete-expired]
  re-drives the stream batches parked in the stack's SQS on-failure queues: reads each batch's records
  from the table's stream and invokes the function with them ({ keywatchReplay: true, Records }),
  deleting the message once nothing failed; what fails again stays in the queue. Messages received
  together (up to 10) whose ranges overlap on one shard are replayed once, as one range. Credentials and
  region: the AWS SDK's default chain (AWS_PROFILE, AWS_REGION, …) unless --region is given.
  --max N           handle at most N messages per queue
  --dry-run         read and count the records; invoke and delete nothing
  --delete-expired  delete the messages of batches past the stream's 24 h (default: left, with the
                    way to recover them; use it once the fleet was re-evaluated / alerts were sent)`;

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const CONSOLE: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

export async function main(argv: readonly string[], io: Io = CONSOLE): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e: unknown) {
    io.err(`${e instanceof Error ? e.message : String(e)}\n${AWS_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(AWS_USAGE);
    return 0;
  }
  const stack = values.stack;
  const which = values.function ?? 'both';
  const max = values.max === undefined ? undefined : Number(values.max);
  if (stack === undefined || stack === '') return usage(io, '--stack is required');
  if (which !== 'both' && !REPLAY_FUNCTIONS.includes(which as ReplayFunction)) {
    return usage(io, `--function must be ${REPLAY_FUNCTIONS.join(', ')} or both`);
  }
  if (max !== undefined && !(Number.isInteger(max) && max >= 1)) {
    return usage(io, '--max must be a positive integer');
  }
  const names = which === 'both' ? REPLAY_FUNCTIONS : [which as ReplayFunction];
  const config = values.region === undefined ? {} : { region: values.region };
  const cloudFormation = new CloudFormationClient(config);
  const clients = {
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
    streams: new DynamoDBStreamsClient(config),
  };
  try {
    const targets = await resolveStack(cloudFormation, stack, names);
    const results: QueueBatchResult[] = [];
    for (const target of targets) {
      results.push(
        ...(await replayQueue(target, clients, {
          dryRun: values['dry-run'] === true,
          deleteExpired: values['delete-expired'] === true,
          ...(max === undefined ? {} : { max }),
          log: io.err,
        })),
      );
    }
    for (const line of summary(targets, results, values['dry-run'] === true)) io.out(line);
    const ok = values['dry-run'] ? ['readable'] : ['replayed'];
    return results.every((r) => ok.includes(r.outcome) || r.deleted) ? 0 : 1;
  } catch (e: unknown) {
    io.err(`replay failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    cloudFormation.destroy();
    for (const client of Object.values(clients)) client.destroy();
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      aws: { type: 'boolean' },
      stack: { type: 'string' },
      function: { type: 'string' },
      region: { type: 'string' },
      max: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'delete-expired': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function usage(io: Io, problem: string): number {
  io.err(`${problem}\n${AWS_USAGE}`);
  return 2;
}

function summary(
  targets: readonly ReplayTarget[],
  results: readonly QueueBatchResult[],
  dryRun: boolean,
): string[] {
  const lines: string[] = [];
  for (const { name } of targets) {
    const mine = results.filter((r) => r.target === name);
    if (mine.length === 0) {
      lines.push(`${name}: nothing parked`);
      continue;
    }
    const count = (o: QueueBatchResult['outcome']) => mine.filter((r) => r.outcome === o).length;
    const deleted = mine.filter((r) => r.deleted).length;
    const merged = mine.filter((r) => r.mergedInto !== undefined).length;
    lines.push(
      `${name}: ${mine.length} parked batches, ` +
        (dryRun
          ? `${count('readable')} readable (dry run: nothing invoked or deleted)`
          : `${count('replayed')} replayed, ${count('failed-again')} failed again`) +
        `, ${count('expired')} past the stream's 24 h, ${count('malformed')} malformed, ${count('error')} unreadable; ` +
        `${deleted} deleted, ${mine.length - deleted} left in the queue` +
        (merged === 0 ? '' : ` (${merged} replayed as part of an overlapping message's range)`),
    );
  }
  return lines;
}
