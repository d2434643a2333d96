// The local stand-in for SNS (DESIGN §6): each Publish input becomes one JSON line in a file, and a
// one-line summary on the console.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PublishCommandInput } from '@aws-sdk/client-sns';
import type { AlertPublisher } from '#adapters/alert-publisher.ts';

export function fileAlertSink(
  path = '.keywatch/alerts.jsonl',
  log: (line: string) => void = console.log,
): AlertPublisher & { readonly path: string } {
  // Appends run one after another, so lines never interleave whatever the caller awaits.
  let tail: Promise<unknown> = Promise.resolve();
  return {
    path,
    publish(input) {
      const line = `${JSON.stringify(input)}\n`;
      const written = tail
        .then(() => mkdir(dirname(path), { recursive: true }))
        .then(() => appendFile(path, line, 'utf8'));
      // A failed append fails its own publish, not the ones queued behind it.
      tail = written.catch(() => undefined);
      return written.then(() => log(summary(input)));
    },
  };
}

function summary(input: PublishCommandInput): string {
  const severity = input.MessageAttributes?.severity?.StringValue ?? '-';
  return `ALERT ${severity.padEnd(8)} ${input.Subject ?? '(no subject)'}`;
}
