/**
 * What went wrong when batch called predict. `code` is stored on a FAILED job as is, so it
 * is stable; `retryable` says whether the same input could succeed on another try (the
 * retry policy that reads it comes later).
 */
export class PredictError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    /** The HTTP status predict answered, when it answered at all. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PredictError';
  }
}

/** Predict answered 4xx: the input itself is bad, so no retry can help. Carries predict's own code. */
export class PredictRejectedError extends PredictError {
  constructor(code: string, message: string, status: number) {
    super(code, message, false, status);
    this.name = 'PredictRejectedError';
  }
}

/** No predict server could be reached (refused, reset, not ready) on any of the URLs. */
export class PredictUnavailableError extends PredictError {
  constructor(message: string) {
    super('PREDICT_UNAVAILABLE', message, true);
    this.name = 'PredictUnavailableError';
  }
}

/** A predict server took the request but gave no answer in time. */
export class PredictTimeoutError extends PredictError {
  constructor(message: string) {
    super('PREDICT_TIMEOUT', message, true);
    this.name = 'PredictTimeoutError';
  }
}

/** Predict answered 5xx or something that is not a PNG: predict itself failed. */
export class PredictFailedError extends PredictError {
  constructor(message: string, status?: number) {
    super('PREDICT_FAILED', message, true, status);
    this.name = 'PredictFailedError';
  }
}

/** Predict answered 200 with something that is not the image asked for: never stored, tried again. */
export class PredictBadOutputError extends PredictError {
  constructor(message: string) {
    super('PREDICT_BAD_OUTPUT', message, true, 200);
    this.name = 'PredictBadOutputError';
  }
}
