// Lambda entry point of the notify function: wires SNS and the table from the environment at cold start
// (the SNS client itself is created on first use, see snsPublisher).
import { snsPublisher } from '#adapters/alert-publisher.ts';
import { createDynamoClient } from '#adapters/clients.ts';
import { requireEnv } from '#adapters/config.ts';
import { createNotifyHandler } from './notify.ts';

export const handler = createNotifyHandler({
  publisher: snsPublisher((sns) => new sns.SNSClient({})),
  topicArn: requireEnv('ALERT_TOPIC_ARN'),
  table: { client: createDynamoClient(), tableName: requireEnv('TABLE_NAME') },
});
