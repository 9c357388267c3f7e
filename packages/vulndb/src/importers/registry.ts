/** The one list of feed importers. Sniffing follows this order, most specific formats first. */
import { PluginRegistry } from '@palisade/core';
import type { FeedImporter } from './types.js';
import { osvImporter } from './osv.js';
import {
  debianCveListImporter,
  debianDistributionsImporter,
  debianDsaImporter,
  debianTrackerImporter,
} from './debian.js';
import { alpineSecdbImporter } from './alpine.js';
import { epssImporter, kevImporter } from './kev-epss.js';
import { redhatImporter } from './redhat.js';

export const importers = new PluginRegistry<FeedImporter>('feed importers', [
  osvImporter,
  kevImporter,
  epssImporter,
  alpineSecdbImporter,
  debianCveListImporter,
  debianDsaImporter,
  debianDistributionsImporter,
  redhatImporter,
  debianTrackerImporter,
]);
