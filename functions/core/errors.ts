// Domain errors. Each sets `name` and carries what the caller needs to answer; HTTP mapping lives in
// functions/http, never here.

export interface ProblemDetail {
  readonly path: string;
  readonly message: string;
}

/** Input that breaks the contract: answered 400 with one detail per problem. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly details: readonly ProblemDetail[];
  constructor(message: string, details: readonly ProblemDetail[] = []) {
    super(message);
    this.details = details;
  }
}

/** A referenced record that does not exist: answered 404. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A request that conflicts with stored state (deleting a referenced group): answered 409. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  readonly details: readonly ProblemDetail[];
  constructor(message: string, details: readonly ProblemDetail[] = []) {
    super(message);
    this.details = details;
  }
}

/** An authenticated caller acting outside what its credential allows: answered 403. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
  readonly details: readonly ProblemDetail[];
  constructor(message: string, details: readonly ProblemDetail[] = []) {
    super(message);
    this.details = details;
  }
}
