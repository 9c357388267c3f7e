import { PluginRegistry } from '@palisade/core';
import type { VersionScheme } from './types.js';
import { apkScheme } from './apk.js';
import { composerScheme } from './composer.js';
import { dpkgScheme } from './dpkg.js';
import { goScheme } from './golang.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { pep440Scheme } from './pep440.js';
import { rpmScheme } from './rpm.js';
import { rubygemsScheme } from './rubygems.js';
import { semverScheme } from './semver.js';

/** Every version scheme Palisade knows: the one list to add a scheme to. */
export const versionSchemes: PluginRegistry<VersionScheme> = new PluginRegistry<VersionScheme>('version schemes', [
  dpkgScheme,
  apkScheme,
  rpmScheme,
  semverScheme,
  goScheme,
  pep440Scheme,
  mavenScheme,
  rubygemsScheme,
  nugetScheme,
  composerScheme,
]);
