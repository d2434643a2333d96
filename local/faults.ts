// Fault injection between the handlers and DynamoDB / SNS, for proving that the pipeline loses nothing
// when calls fail (`KEYWATCH_FAULTS`, `npm run bench -- faults`). An SDK middleware on the clients the
// local functions use makes a chosen fraction of calls fail as AWS calls fail: throttled, timed out, a
// 500, or "lost" — the call takes effect in DynamoDB (or SNS publishes) but the caller sees an error,
// the case that idempotency has to survive. Decisions come from a seeded generator, so the same
// sequence of calls meets the same faults. Local only: it refuses to switch on inside Lambda.

import {
  type DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { InternalErrorException, type SNSClient, ThrottledException } from '@aws-sdk/client-sns';
import type { InitializeHandlerOptions, InitializeMiddleware, MetadataBearer } from '@smithy/types';
import type { AlertPublisher } from '#adapters/alert-publisher.ts';
import { seededRandom } from './random.ts';

export const FAULT_KINDS = ['throttle', 'timeout', 'error', 'lost'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultService = 'dynamodb' | 'sns';

/**
 * A lost answer is injected on DynamoDB only. A Publish that reached SNS but whose answer was lost
 * cannot be told from one that failed, and SNS cannot deduplicate for e-mail and SMS subscribers
 * (only FIFO topics deduplicate, and they do not deliver to them): the retry publishes the alert a
 * second time, by the nature of at-least-once delivery, not by a keywatch fault to be found.
 */
const KINDS_OF: Record<FaultService, readonly FaultKind[]> = {
  dynamodb: FAULT_KINDS,
  sns: ['throttle', 'timeout', 'error'],
};

export interface FaultSpec {
  /** Probability that a call meets each kind of fault; their sum is the fraction of calls failed. */
  readonly rates: Readonly<Record<FaultKind, number>>;
  readonly seed: number;
}

/** Thrown (or its SDK subclass carries it) so a test can tell an injected fault from a real one. */
export const INJECTED = Symbol.for('keywatch.injectedFault');

export interface FaultCounts {
  /** Calls that passed through the injector, per service. */
  readonly calls: Record<FaultService, number>;
  /** Faults injected, per service and kind. */
  readonly injected: Record<FaultService, Record<FaultKind, number>>;
}

export interface FaultInjector {
  readonly spec: FaultSpec;
  /** The fault this call meets, if any (advances the seeded generator once per call). */
  decide(service: FaultService, operation: string): FaultKind | undefined;
  counts(): FaultCounts;
  /** One line for the console: rates, seed, calls and faults injected. */
  summary(): string;
  /** Stops (false) or resumes injecting; calls made meanwhile are not counted. */
  setEnabled(enabled: boolean): void;
}

/**
 * `rate=0.2,seed=7` fails 20 % of calls, split evenly over the four kinds; `throttle=0.1,lost=0.05`
 * sets kinds one by one (the others 0). Unknown keys and rates outside 0–1 are refused.
 */
export function parseFaults(text: string): FaultSpec {
  const values = new Map<string, number>();
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const [key, raw, ...rest] = trimmed.split('=');
    const value = Number(raw);
    if (
      key === undefined ||
      raw === undefined ||
      rest.length > 0 ||
      raw.trim() === '' ||
      !Number.isFinite(value)
    ) {
      throw new Error(`KEYWATCH_FAULTS: "${trimmed}" is not key=number`);
    }
    if (key !== 'rate' && key !== 'seed' && !(FAULT_KINDS as readonly string[]).includes(key)) {
      throw new Error(`KEYWATCH_FAULTS: unknown key "${key}" (rate, seed, ${FAULT_KINDS.join(', ')})`);
    }
    values.set(key, value);
  }
  const perKind = FAULT_KINDS.some((k) => values.has(k));
  if (perKind && values.has('rate')) {
    throw new Error('KEYWATCH_FAULTS: give either rate or per-kind rates, not both');
  }
  const rate = values.get('rate') ?? 0;
  const rates = Object.fromEntries(
    FAULT_KINDS.map((k) => [k, perKind ? (values.get(k) ?? 0) : rate / FAULT_KINDS.length]),
  ) as Record<FaultKind, number>;
  const total = FAULT_KINDS.reduce((sum, k) => sum + rates[k], 0);
  if (FAULT_KINDS.some((k) => rates[k] < 0) || total > 1) {
    throw new Error('KEYWATCH_FAULTS: rates must be ≥ 0 and add up to at most 1');
  }
  const seed = values.get('seed') ?? 1;
  if (!Number.isInteger(seed)) throw new Error('KEYWATCH_FAULTS: seed must be an integer');
  return { rates, seed };
}

/**
 * The injector `KEYWATCH_FAULTS` asks for, or undefined when it is unset. Inside Lambda
 * (`AWS_LAMBDA_FUNCTION_NAME` set) it refuses: failing a fraction of production calls on purpose is
 * never what a deployed function should do, whatever its environment says.
 */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultInjector | undefined {
  const text = env.KEYWATCH_FAULTS;
  if (text === undefined || text.trim() === '') return undefined;
  if (env.AWS_LAMBDA_FUNCTION_NAME !== undefined) {
    throw new Error('KEYWATCH_FAULTS is for the local runtime only; refusing to inject faults inside Lambda');
  }
  return createFaultInjector(parseFaults(text));
}

export function createFaultInjector(spec: FaultSpec): FaultInjector {
  if (process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined) {
    throw new Error('fault injection is for the local runtime only; refusing inside Lambda');
  }
  const random = seededRandom(spec.seed);
  const zero = () => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const calls: Record<FaultService, number> = { dynamodb: 0, sns: 0 };
  const byOperation = new Map<string, number>();
  const injected: Record<FaultService, Record<FaultKind, number>> = { dynamodb: zero(), sns: zero() };
  let enabled = true;
  return {
    spec,
    setEnabled(on) {
      enabled = on;
    },
    decide(service, operation) {
      if (!enabled) return undefined;
      calls[service]++;
      byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
      let u = random();
      for (const kind of KINDS_OF[service]) {
        if (u < spec.rates[kind]) {
          injected[service][kind]++;
          return kind;
        }
        u -= spec.rates[kind];
      }
      return undefined;
    },
    counts: () => structuredClone({ calls, injected }),
    summary() {
      const rates = FAULT_KINDS.map((k) => `${k} ${pct(spec.rates[k])}`).join(', ');
      const per = (s: FaultService) => {
        const n = FAULT_KINDS.reduce((sum, k) => sum + injected[s][k], 0);
        const kinds = FAULT_KINDS.map((k) => `${injected[s][k]} ${k}`).join(', ');
        return `${s} ${n} of ${calls[s]} calls (${kinds})`;
      };
      const ops = [...byOperation]
        .sort((a, b) => b[1] - a[1])
        .map(([op, n]) => `${op.replace(/Command$/, '')} ${n}`)
        .join(', ');
      return `faults (seed ${spec.seed}; ${rates}): ${per('dynamodb')}; ${per('sns')}; calls by operation: ${ops}`;
    },
  };
}

const pct = (x: number) => `${Number((x * 100).toFixed(2))} %`;

/** The error a caller sees for a fault, shaped as the SDK shapes that service's failure. */
export function faultError(service: FaultService, kind: FaultKind, operation: string): Error {
  const message = `Injected fault (${kind}) on ${operation}`;
  const $metadata = { httpStatusCode: kind === 'error' ? 500 : 400, attempts: 1, totalRetryDelay: 0 };
  let error: Error;
  switch (kind) {
    case 'throttle':
      error =
        service === 'sns'
          ? new ThrottledException({ message, $metadata })
          : operation === 'TransactWriteItemsCommand'
            ? new ThrottlingException({ message, $metadata })
            : new ProvisionedThroughputExceededException({ message, $metadata });
      break;
    case 'error':
      error =
        service === 'sns'
          ? new InternalErrorException({ message, $metadata })
          : new InternalServerError({ message, $metadata });
      break;
    case 'timeout':
      // What the SDK's HTTP handler throws when a request gets no answer in time.
      error = Object.assign(new Error(`${message}: request timed out`), {
        name: 'TimeoutError',
        code: 'ETIMEDOUT',
      });
      break;
    case 'lost':
      // The request reached the service and took effect; the answer never arrived.
      error = Object.assign(new Error(`${message}: socket hang up after the call took effect`), {
        name: 'TimeoutError',
        code: 'ECONNRESET',
      });
      break;
  }
  return Object.assign(error, { [INJECTED]: kind });
}

export function isInjectedFault(e: unknown): e is Error & { [INJECTED]: FaultKind } {
  return typeof e === 'object' && e !== null && INJECTED in e;
}

/** What withFaults needs of an SDK client: DynamoDBClient and SNSClient both have it. */
interface MiddlewareClient {
  readonly middlewareStack: {
    add(
      middleware: InitializeMiddleware<object, MetadataBearer>,
      options: InitializeHandlerOptions & { name: string; priority: 'high' },
    ): void;
  };
}

/**
 * Adds the injector to an SDK client. It sits at the top of the stack (initialize step), above the
 * SDK's own retries: what it injects is a call that failed after those retries, the failure the
 * handlers must cope with. A lost call is sent (retries included) and its answer thrown away.
 */
export function withFaults<C extends DynamoDBClient | SNSClient>(
  client: C,
  injector: FaultInjector,
  service: FaultService,
): C {
  const middleware: InitializeMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
    const operation = context.commandName ?? 'call';
    const kind = injector.decide(service, operation);
    if (kind === undefined) return next(args);
    if (kind === 'lost') await next(args);
    throw faultError(service, kind, operation);
  };
  // Both clients' stacks take any initialize middleware; their type parameters differ only by service.
  (client as unknown as MiddlewareClient).middlewareStack.add(middleware, {
    step: 'initialize',
    name: 'keywatchFaults',
    priority: 'high',
  });
  return client;
}

/** The same faults for the local alert sink, which stands in for SNS without an SDK client. */
export function withPublishFaults(publisher: AlertPublisher, injector: FaultInjector): AlertPublisher {
  return {
    async publish(input) {
      const kind = injector.decide('sns', 'PublishCommand');
      if (kind === undefined) return publisher.publish(input);
      if (kind === 'lost') await publisher.publish(input);
      throw faultError('sns', kind, 'PublishCommand');
    },
  };
}
