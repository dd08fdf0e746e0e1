/**
 * The one error type services throw on purpose. `code` is stable (clients branch on it and
 * docs/errors.md lists every one); `message` says what is wrong and how to fix it.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export interface ErrorBody {
  status: 'ng';
  error: { code: string; message: string; request_id?: string };
}

export function errorBody(code: string, message: string, requestId?: string): ErrorBody {
  return { status: 'ng', error: requestId ? { code, message, request_id: requestId } : { code, message } };
}
