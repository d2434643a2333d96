// Deployment context: stage naming, subscriptions only when asked for, and clear errors on bad input.
import { describe, expect, it } from 'vitest';
import { ContextError, parseFlag, parseList, parseStage, readDeploymentConfig } from '#infra/context.ts';
import { synth } from './synth.ts';

describe('deployment context', () => {
  it('defaults to stage dev and no subscriptions', () => {
    expect(readDeploymentConfig(() => undefined)).toEqual({ stage: 'dev', alertEmails: [], alertSms: [] });
  });

  it('splits comma-separated lists, trims them and drops blanks and duplicates', () => {
    const email = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
    expect(parseList('alertEmails', ' a@x.com, b@y.org,,a@x.com ', email, 'an e-mail address')).toEqual([
      'a@x.com',
      'b@y.org',
    ]);
    expect(parseList('alertEmails', ['a@x.com'], email, 'an e-mail address')).toEqual(['a@x.com']);
  });

  it.each([
    ['alertEmails', 'ops@example.com,not-an-address', /"not-an-address" is not an e-mail address/],
    ['alertSms', '+15555550100,5555550100', /"5555550100" is not an E\.164 phone number/],
    ['alertSms', '+0123', /"\+0123" is not an E\.164/],
    ['stage', 'Prod', /Context "stage"/],
  ])('rejects %s=%s naming the bad value', (key, value, message) => {
    const read = () => readDeploymentConfig((k) => (k === key ? value : undefined));
    expect(read).toThrow(ContextError);
    expect(read).toThrow(message);
  });

  it('reads a flag from the command line or cdk.json, and refuses anything but true or false', () => {
    expect([undefined, 'false', false, 'true', true].map((v) => parseFlag('sourceMaps', v))).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    expect(() => parseFlag('sourceMaps', 'yes')).toThrow(
      /Context "sourceMaps" must be true or false; got "yes"/,
    );
  });

  it('accepts a lower-case stage with digits and dashes', () => {
    expect(parseStage('prod')).toBe('prod');
    expect(parseStage('test-2')).toBe('test-2');
  });
});

describe('stack per context', () => {
  it('creates no subscriptions when alertEmails and alertSms are absent', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('creates one subscription per address and number: e-mails on both topics, SMS on alerts', () => {
    const { template } = synth({
      alertEmails: 'a@example.com,b@example.com',
      alertSms: '+15555550100,+447700900123,+33612345678',
    });
    expect(
      Object.keys(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'email' } })),
    ).toHaveLength(4);
    expect(
      Object.keys(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'sms' } })),
    ).toHaveLength(3);
  });

  it('sets NODE_OPTIONS=--enable-source-maps on every function only with sourceMaps=true', () => {
    const options = (context: Record<string, unknown>) => {
      const { template } = synth(context);
      return Object.values(template.findResources('AWS::Lambda::Function'))
        .filter((f) => f.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'keywatch')
        .map((f) => f.Properties.Environment.Variables.NODE_OPTIONS);
    };
    const without = options({});
    expect(without).toHaveLength(4);
    expect(without).toEqual([undefined, undefined, undefined, undefined]);
    expect(options({ sourceMaps: 'true' })).toEqual(Array(4).fill('--enable-source-maps'));
    expect(() => synth({ sourceMaps: 'on' })).toThrow(/Context "sourceMaps" must be true or false/);
  });

  it('fails the synth on a malformed address', () => {
    expect(() => synth({ alertEmails: 'ops@example' })).toThrow(/"ops@example" is not an e-mail address/);
  });

  it('names the prod stack Keywatch-prod and protects its data, logs and key', () => {
    const { stack, template } = synth({ stage: 'prod' });
    expect(stack.stackName).toBe('Keywatch-prod');
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.DeletionPolicy).toBe('Retain');
      expect(group.Properties.RetentionInDays).toBe(90);
    }
  });

  it('lets dev clean up its logs and key but still keeps the table', () => {
    const { template } = synth({ stage: 'dev' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete' });
  });
});
