// Where the local stream poller resumes after a restart, as an event source mapping keeps its position
// across Lambda's own restarts: the last sequence number handled per consumer and shard, in a file
// beside DynamoDB Local's data (`npm start` with KEYWATCH_DATA_DIR). Without it a restart replayed the
// whole stream from the trim horizon, group creations included, whose fleet walks then overtook the
// replayed reports (see README "Operations").
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface CheckpointStore {
  get(consumer: string, shardId: string): string | undefined;
  /** Called after a page is handled; durable when it returns (a crash right after keeps it). */
  save(consumer: string, shardId: string, sequenceNumber: string): void;
}

interface CheckpointFile {
  readonly streamArn: string;
  readonly positions: Record<string, string>;
}

const key = (consumer: string, shardId: string) => `${consumer}/${shardId}`;

/** Checkpoints of `streamArn` in `path`; a file written for another stream (a new table) is ignored. */
export function fileCheckpoints(path: string, streamArn: string): CheckpointStore {
  let positions: Record<string, string> = {};
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as CheckpointFile;
    if (stored.streamArn === streamArn) positions = { ...stored.positions };
  } catch {
    // no file yet (first start), or an unreadable one: start from the consumers' starting position
  }
  return {
    get: (consumer, shardId) => positions[key(consumer, shardId)],
    save(consumer, shardId, sequenceNumber) {
      positions[key(consumer, shardId)] = sequenceNumber;
      // Written aside and renamed over, so a kill mid-write leaves the previous file, never half of one.
      const temporary = `${path}.tmp`;
      writeFileSync(temporary, JSON.stringify({ streamArn, positions } satisfies CheckpointFile));
      renameSync(temporary, path);
    },
  };
}
