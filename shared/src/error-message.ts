/**
 * The text of anything thrown, for a log line or an error's message: an Error's message, else
 * the value as a string (a rejection may carry anything). One place, so every service words
 * failures the same way.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
