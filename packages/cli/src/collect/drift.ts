/**
 * Binary drift in `palisade sensor collect`: the drift monitor judges every (enriched) exec of
 * a container against the policy (`--drift-policy FILE`; without one every drift alerts), and
 * with `--enforce-drift` the enforcer stops such execs in the kernel; its stop records become
 * `blocked: true` alerts (the exec the sensor also sees for a stopped exec does not alert twice).
 */
import { PalisadeError, type Alert, type RuntimeEvent } from '@palisade/core';
import {
  DriftEnforcer,
  DriftMonitor,
  emptyDriftPolicy,
  loadDriftPolicy,
  type CachedResolver,
  type CollectorEngine,
  type DriftPolicy,
} from '@palisade/sensor';

export const ENFORCE_MECHANISMS = ['auto', 'lsm', 'kill'] as const;
export type EnforceMechanismChoice = (typeof ENFORCE_MECHANISMS)[number];

export interface DriftSetupOptions {
  policyFile?: string;
  enforce: boolean;
  mechanism: EnforceMechanismChoice;
}

export interface DriftSetup {
  policy: DriftPolicy;
  monitor: DriftMonitor;
  enforcer?: DriftEnforcer;
  /** One line for the start message: policy and enforcement. */
  describe(): string;
}

/** Loads the policy and, with enforcement, starts the enforcer (errors name the flag). */
export async function setupDrift(o: DriftSetupOptions): Promise<DriftSetup> {
  const policy = o.policyFile !== undefined ? loadDriftPolicy(o.policyFile) : emptyDriftPolicy();
  let enforcer: DriftEnforcer | undefined;
  if (o.enforce) {
    try {
      enforcer = await DriftEnforcer.start({
        policy,
        mechanism: o.mechanism === 'kill' ? 'signal' : o.mechanism,
      });
    } catch (err) {
      if (err instanceof PalisadeError) throw err; // a policy the kernel table cannot hold
      const msg = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
      throw new PalisadeError('E_CONFIG', `cannot start drift enforcement: ${msg}`, {
        subject: '--enforce-drift',
        cause: err,
      });
    }
  }
  const monitor = new DriftMonitor({ policy, ...(enforcer ? { enforcer } : {}) });
  const entries = `${policy.allow.length} allow ${policy.allow.length === 1 ? 'entry' : 'entries'}`;
  return {
    policy,
    monitor,
    ...(enforcer ? { enforcer } : {}),
    describe: (): string =>
      `drift policy ${policy.source} (${entries})` +
      (enforcer
        ? `, enforced by ${enforcer.mechanism === 'lsm' ? 'BPF LSM' : 'SIGKILL at exec'}` +
          (enforcer.lsmError !== undefined && enforcer.mechanism !== 'lsm'
            ? ` (BPF LSM refused: ${enforcer.lsmError})`
            : '')
        : ', alert only'),
  };
}

/** The rules, then the drift monitor for container execs (which may await the enforcer). */
export function withDrift(engine: CollectorEngine, monitor: DriftMonitor): CollectorEngine {
  return {
    evaluate(ev: RuntimeEvent): Alert[] | Promise<Alert[]> {
      const r = engine.evaluate(ev);
      if (ev.type !== 'process.exec' || !ev.container) return r;
      return (async (): Promise<Alert[]> => {
        const alerts = Array.isArray(r) ? r : await r;
        const drift = await monitor.onEvent(ev);
        return drift ? [...alerts, drift] : alerts;
      })();
    },
  };
}

/**
 * Turns the enforcer's stop records into alerts until it stops. Containers are resolved
 * through the same cache as events (a stop is rare: waiting for its lookup holds no event).
 */
export async function pumpStops(
  setup: DriftSetup,
  resolver: CachedResolver | undefined,
  offerAlert: (a: Alert) => void,
): Promise<number> {
  const enf = setup.enforcer;
  if (!enf) return 0;
  let n = 0;
  for await (const stop of enf.stops()) {
    offerAlert(await setup.monitor.onStop(stop, resolver));
    n++;
  }
  return n;
}
