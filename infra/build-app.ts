// Builds the keywatch CDK app: the entry point (app.ts) synthesizes it, tests inspect it.
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from './context.ts';
import { KeywatchStack } from './keywatch-stack.ts';

export interface BuildAppOptions extends AppProps {
  /** Where the function folders live; tests may point it elsewhere. Defaults to `functions/`. */
  readonly functionsRoot?: string;
}

export function buildApp(options: BuildAppOptions = {}): { app: App; stack: KeywatchStack } {
  const { functionsRoot, ...appProps } = options;
  const app = new App(appProps);
  const config = readDeploymentConfig((key) => app.node.tryGetContext(key));

  const stack = new KeywatchStack(app, `Keywatch-${config.stage}`, {
    config,
    description: `keywatch (${config.stage}): BitLocker key-escrow watch — signed ingest, dynamic groups, SNS alerts`,
    ...(functionsRoot === undefined ? {} : { functionsRoot }),
    // Environment-agnostic: the account and region come from the deploying credentials.
  });

  // AwsSolutions on every synth: an unacknowledged finding fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
