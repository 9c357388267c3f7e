/** The cluster connector: snapshots of registered clusters, their inventory, changes and posture findings. */
export * from './attack-paths.js';
export * from './connector.js';
export * from './inventory.js';
export * from './kubeconfig.js';
export * from './schedule.js';
