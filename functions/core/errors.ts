// Domain errors. Each sets `name` and carries what the caller needs to answer; HTTP mapping lives in
// functions/http, never here.

export interface ProblemDetail {
  readonly path: string;
  readonly message: string;
}

/** An error that names, per path, what was wrong. */
abstract class DetailedError extends Error {
  readonly details: readonly ProblemDetail[];
  constructor(message: string, details: readonly ProblemDetail[] = []) {
    super(message);
    this.details = details;
  }
}

/** Input that breaks the contract: answered 400 with one detail per problem. */
export class ValidationError extends DetailedError {
  override readonly name = 'ValidationError';
}

/** A referenced record that does not exist: answered 404. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A request that conflicts with stored state (deleting a referenced group): answered 409. */
export class ConflictError extends DetailedError {
  override readonly name = 'ConflictError';
}

/** An authenticated caller acting outside what its credential allows: answered 403. */
export class ForbiddenError extends DetailedError {
  override readonly name = 'ForbiddenError';
}
