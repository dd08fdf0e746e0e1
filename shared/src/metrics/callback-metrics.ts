import { Counter, type Registry } from 'prom-client';

/**
 * `cutout_callback_deliveries_total{outcome}`: each delivery attempt this process settled
 * (delivered, retry, gave_up, lost: another process's claim, not_recorded: Redis did not answer).
 * Returns the hook startCallbackDeliverer takes as `onOutcome`.
 */
export function callbackMetrics(registry: Registry): (outcome: string) => void {
  const counter = new Counter({
    name: 'cutout_callback_deliveries_total',
    help: 'Callback delivery attempts settled by this process, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return (outcome) => counter.inc({ outcome });
}
