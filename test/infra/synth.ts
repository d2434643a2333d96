// Synthesizes the keywatch app the way `cdk synth` does (cdk-nag included), but with asset bundling
// and the built-in CloudFormation validation skipped, so a template test file takes well under a
// second per stack. Each test file synthesizes once per context it needs, in `beforeAll`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CfnElement, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '#infra/build-app.ts';
import type { KeywatchStack } from '#infra/keywatch-stack.ts';

export interface Synthesized {
  readonly stack: KeywatchStack;
  readonly template: Template;
  /** Every acknowledged cdk-nag finding: construct path, rule id and the written reason. */
  readonly acknowledgments: readonly { path: string; id: string; reason: string }[];
}

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const { app, stack } = buildApp({
    outdir: mkdtempSync(join(tmpdir(), 'keywatch-cdk-')),
    context: { 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: false,
  });
  // Throws when a cdk-nag AwsSolutions finding is not acknowledged.
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template);
  return { stack, template, acknowledgments: acknowledgmentsUnder(app) };
}

function acknowledgmentsUnder(root: IConstruct) {
  const out: { path: string; id: string; reason: string }[] = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return out;
}

/** The logical id of a construct's CloudFormation resource in the synthesized stack. */
export function idIn(s: Synthesized, construct: IConstruct): string {
  return s.stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The project's four functions, by name. */
export function functionsOf(s: Synthesized) {
  return {
    ingest: s.stack.api.ingest,
    admin: s.stack.api.admin,
    evaluate: s.stack.processing.evaluate,
    notify: s.stack.processing.notify,
  };
}

/** A resource policy that refuses every request made without TLS. */
export const DENIES_INSECURE_TRANSPORT = {
  PolicyDocument: {
    Statement: Match.arrayWith([
      Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    ]),
  },
};

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** The IAM statements attached to a role (its inline policies), flattened. */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Resources;
  const statements: Statement[] = [];
  for (const policy of Object.values(policies)) {
    const roles = (policy.Properties?.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((r) => r.Ref === roleLogicalId)) continue;
    const doc = policy.Properties?.PolicyDocument as { Statement: Statement[] };
    statements.push(...doc.Statement);
  }
  return statements;
}

export function actionsOf(statements: readonly Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}
