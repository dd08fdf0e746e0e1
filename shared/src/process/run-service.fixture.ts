/**
 * A tiny service for run-service.test.ts, run as its own process: FIXTURE_PARTS lists parts as
 * `name:behaviour` (ok, hang, fail, slow), added in that order; FIXTURE_AFTER_START says what
 * happens once they are: `reject` (an unhandled rejection), `throw` (start fails), `fail2`
 * (ServiceContext.fail with exit code 2), `contain` (stray errors contained, then an uncaught
 * exception and an unhandled rejection), or nothing (wait for a signal).
 */
import { createLogger } from '../logger.js';
import { runService } from './run-service.js';

const logger = createLogger('fixture', 'info');

function closer(name: string, behaviour: string): () => Promise<void> {
  return async () => {
    logger.info('closing', { part: name });
    if (behaviour === 'hang') await new Promise(() => undefined);
    if (behaviour === 'slow') await new Promise((resolve) => setTimeout(resolve, 60_000));
    if (behaviour === 'fail') throw new Error(`${name} would not close`);
    logger.info('closed', { part: name });
  };
}

runService({
  name: 'fixture',
  logger,
  stepTimeoutMs: 300,
  start: async (service) => {
    for (const spec of (process.env.FIXTURE_PARTS ?? '').split(',').filter(Boolean)) {
      const [name = '', behaviour = 'ok'] = spec.split(':');
      service.add({ name, close: closer(name, behaviour), force: () => logger.info('forced', { part: name }), ...(behaviour === 'slow' ? { timeoutMs: 120_000 } : {}) });
    }
    // Keeps the process alive until it is stopped, as a listener would.
    const keepAlive = setInterval(() => undefined, 1_000);
    service.add({ name: 'keep-alive', close: () => clearInterval(keepAlive) });
    const after = process.env.FIXTURE_AFTER_START;
    logger.info('started');
    if (after === 'throw') throw new Error('cannot start: no such thing');
    if (after === 'reject') void Promise.reject(new Error('nobody caught this'));
    if (after === 'fail2') service.fail(new Error('bad model'), 2);
    if (after === 'contain') {
      service.containStrayErrors((error, origin) => logger.warn('contained', { origin, error: (error as Error).message }));
      setTimeout(() => {
        throw new Error('thrown in a timer');
      }, 10);
      setTimeout(() => void Promise.reject(new Error('rejected in a timer')), 20);
      setTimeout(() => logger.info('still serving'), 100);
    }
  },
});
