/**
 * Small helpers shared by the checks in checks.ts: security contexts with their paths, the
 * Windows and user-namespace conditions upstream exempts on, and annotation walking.
 */
import type { Violation } from './check.js';
import { isObject, objAt, strAt, type FieldPath, type JsonObject } from './path.js';
import { containersOf, podOf, type ContainerView, type PodView } from './workload.js';

/** Run `fn` on the pod of a workload; other kinds pass. */
export function onPod(obj: JsonObject, fn: (pod: PodView) => Violation[]): Violation[] {
  const pod = podOf(obj);
  return pod ? fn(pod) : [];
}

/** Run `fn` on every container (init, regular, ephemeral) and collect its violations. */
export function eachContainer(
  pod: PodView,
  fn: (c: ContainerView) => Violation | Violation[] | undefined,
): Violation[] {
  const out: Violation[] = [];
  for (const c of containersOf(pod)) {
    const v = fn(c);
    if (v === undefined) continue;
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
  }
  return out;
}

export function podSc(pod: PodView): { sc: JsonObject | undefined; path: FieldPath } {
  return { sc: objAt(pod.spec, 'securityContext'), path: [...pod.specPath, 'securityContext'] };
}

export function containerSc(c: ContainerView): { sc: JsonObject | undefined; path: FieldPath } {
  return { sc: objAt(c.c, 'securityContext'), path: [...c.path, 'securityContext'] };
}

/** Upstream exempts Windows pods from the Linux-only restricted controls from v1.25 on. */
export function isWindowsPod(pod: PodView): boolean {
  return strAt(objAt(pod.spec, 'os'), 'name') === 'windows';
}

/** A pod in a user namespace (`hostUsers: false`): upstream relaxes some controls for it from v1.35. */
export function inUserNamespace(pod: PodView): boolean {
  return pod.spec.hostUsers === false;
}

/** Annotations of the pod (template) whose key starts with `prefix`. */
export function annotations(pod: PodView, prefix: string): Array<{ key: string; value: string; path: FieldPath }> {
  const ann = objAt(pod.meta, 'annotations');
  if (!isObject(ann)) return [];
  return Object.keys(ann)
    .filter((k) => k.startsWith(prefix))
    .sort()
    .map((key) => ({
      key,
      value: typeof ann[key] === 'string' ? ann[key] : String(ann[key]),
      path: [...pod.metaPath, 'annotations', key],
    }));
}

/** Pick the implementation in force at a policy version: the last entry whose minimum is at or below it. */
export function versioned<F>(pssVersion: number, impls: ReadonlyArray<readonly [number, F]>): F | undefined {
  let chosen: F | undefined;
  for (const [min, fn] of impls) if (pssVersion >= min) chosen = fn;
  return chosen;
}
