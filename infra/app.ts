// CDK app entry (cdk.json: `node infra/app.ts`). Context: stage (default dev), alertEmails, alertSms.
import { buildApp } from './build-app.ts';

buildApp().app.synth();
