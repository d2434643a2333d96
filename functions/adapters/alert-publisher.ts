// Publishing alerts: the SNS adapter and the Publish input it sends. The input is built once here so
// the local file sink (local/alert-sink.ts) records exactly what SNS would have received.
import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import { buildAlert } from '#core/alert-message.ts';
import type { Transition } from '#core/transition.ts';

export interface AlertPublisher {
  publish(input: PublishCommandInput): Promise<void>;
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

export function snsPublisher(client: SNSClient): AlertPublisher {
  return {
    async publish(input) {
      await client.send(new PublishCommand(input));
    },
  };
}
