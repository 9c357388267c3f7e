import { Command } from 'commander';
import { readOnlyRbacManifests } from '@palisade/kube';
import { emit, type Io } from '../output.js';

/** `palisade cluster manifests`: the read-only identity Palisade needs in a cluster. */
export function clusterCommand(io: Io, setExit: (code: number) => void): Command {
  const cluster = new Command('cluster').description('connect Palisade to Kubernetes clusters');
  cluster
    .command('manifests')
    .description(
      'print the ServiceAccount, read-only ClusterRole (get/list/watch of the kinds Palisade reads; never secrets) and binding to apply with kubectl',
    )
    .option('-o, --output <file>', 'write the manifests to a file instead of stdout')
    .action((flags: { output?: string }) => {
      emit(io, readOnlyRbacManifests(), flags.output);
      setExit(0);
    });
  return cluster;
}
