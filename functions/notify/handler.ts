// Lambda entry point of the notify function: wires SNS and the table from the environment at cold start.
import { SNSClient } from '@aws-sdk/client-sns';
import { snsPublisher } from '#adapters/alert-publisher.ts';
import { createDynamoClient } from '#adapters/clients.ts';
import { requireEnv } from '#adapters/config.ts';
import { createNotifyHandler } from './notify.ts';

export const handler = createNotifyHandler({
  publisher: snsPublisher(new SNSClient({})),
  topicArn: requireEnv('ALERT_TOPIC_ARN'),
  table: { client: createDynamoClient(), tableName: requireEnv('TABLE_NAME') },
});
