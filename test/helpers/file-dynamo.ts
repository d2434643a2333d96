// vitest setup file: after each test file, stop the DynamoDB Local it started (test/helpers/dynamo.ts).
// Registered before the file's own hooks, so it runs after them (vitest runs after-hooks as a stack).
import { afterAll } from 'vitest';
import { stopFileDynamo } from './dynamo.ts';

afterAll(stopFileDynamo);
