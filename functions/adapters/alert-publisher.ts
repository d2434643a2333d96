// Publishing alerts: the SNS adapter and the Publish input it sends. The input is built once here so
// the local file sink (local/alert-sink.ts) records exactly what SNS would have received.
import type { PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { buildAlert } from '#core/alert-message.ts';
import type { Transition } from '#core/transition.ts';

export interface AlertPublisher {
  publish(input: PublishCommandInput): Promise<void>;
  /** Starts whatever the first publish needs (loading the SDK), so it overlaps other work. */
  prepare?(): void;
}

/** One SNS Publish per alert (DESIGN §5). */
export function publishInputFor(t: Transition, topicArn: string): PublishCommandInput {
  const { subject, message, attributes } = buildAlert(t);
  return {
    TopicArn: topicArn,
    Subject: subject,
    MessageStructure: 'json',
    Message: JSON.stringify(message),
    MessageAttributes: Object.fromEntries(
      Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
    ),
  };
}

type Sns = typeof import('@aws-sdk/client-sns');

/**
 * SNS Publish with a client `createClient` makes once, from the SDK module loaded on first use: the
 * notify function's init does not pay for it, and its handler calls `prepare` first thing, so the
 * module loads while the first idempotency write waits on DynamoDB.
 */
export function snsPublisher(createClient: (sns: Sns) => SNSClient): AlertPublisher {
  let loaded: Promise<{ sns: Sns; client: SNSClient }> | undefined;
  const load = () => {
    if (loaded === undefined) {
      loaded = import('@aws-sdk/client-sns').then((sns) => ({ sns, client: createClient(sns) }));
      // A failed load is not kept for the instance's life: the next publish tries again.
      loaded.catch(() => {
        loaded = undefined;
      });
    }
    return loaded;
  };
  return {
    prepare() {
      // A failure here surfaces in publish, which loads again.
      load().catch(() => {});
    },
    async publish(input) {
      const { sns, client } = await load();
      await client.send(new sns.PublishCommand(input));
    },
  };
}
