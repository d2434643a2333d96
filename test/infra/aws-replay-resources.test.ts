// `npm run replay -- --aws` finds each consumer's function and on-failure queue in a deployed stack by
// logical-id prefix (local/aws-replay.ts): the prefixes must pick exactly the right resources of the
// synthesized template, and each queue must be the on-failure destination of that function's mapping.
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPLAY_FUNCTIONS, resolveStack } from '#local/aws-replay.ts';
import { idIn, type Synthesized, synth } from './synth.ts';

let s: Synthesized;
const cloudFormation = mockClient(CloudFormationClient);
beforeAll(() => {
  s = synth();
  const resources = s.template.toJSON().Resources as Record<string, { Type: string }>;
  // As CloudFormation lists a deployed stack: every resource, with a physical id of its own.
  cloudFormation.on(ListStackResourcesCommand, { StackName: s.stack.stackName }).resolves({
    StackResourceSummaries: Object.entries(resources).map(([id, r]) => ({
      LogicalResourceId: id,
      PhysicalResourceId: `physical-${id}`,
      ResourceType: r.Type,
      ResourceStatus: 'CREATE_COMPLETE',
      LastUpdatedTimestamp: new Date(),
    })),
  });
});
afterAll(() => {
  cloudFormation.restore();
});

it('resolves the evaluate and notify functions and the queues their mappings park failed batches in', async () => {
  const client = new CloudFormationClient({ region: 'eu-west-1' });
  const targets = await resolveStack(client, s.stack.stackName, REPLAY_FUNCTIONS);
  const { processing } = s.stack;
  const expected = {
    evaluate: { fn: processing.evaluate.function, queue: processing.evaluateFailures },
    notify: { fn: processing.notify.function, queue: processing.notifyFailures },
  };
  const mappings = Object.values(s.template.findResources('AWS::Lambda::EventSourceMapping'));
  expect(targets.map((t) => t.name)).toEqual(['evaluate', 'notify']);
  for (const target of targets) {
    const fnId = idIn(s, expected[target.name].fn);
    const queueId = idIn(s, expected[target.name].queue);
    expect(target.functionName).toBe(`physical-${fnId}`);
    expect(target.queueUrl).toBe(`physical-${queueId}`);
    const mapping = mappings.find((m) => m.Properties.FunctionName.Ref === fnId);
    expect(mapping?.Properties.DestinationConfig.OnFailure.Destination).toEqual({
      'Fn::GetAtt': [queueId, 'Arn'],
    });
  }
});
