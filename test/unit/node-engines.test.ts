/**
 * Every package the lockfile installs runs on the oldest Node the project declares (package.json
 * `engines`), so `npm ci` prints no EBADENGINE warning on a supported Node, and every install
 * script it would run is reviewed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// semver ships no types; these two functions are all the test needs.
const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean; minVersion(range: string): { version: string } | null };
const read = (f: string) => JSON.parse(readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8'));

describe('Node engines', () => {
  const pkg = read('package.json');
  const lock = read('package-lock.json');
  const oldest = semver.minVersion(pkg.engines.node)!.version;

  it('the lockfile records the engines package.json declares', () => {
    expect(lock.packages[''].engines).toEqual(pkg.engines);
  });

  it(`every locked package accepts Node ${oldest}, and so does the Node running the tests`, () => {
    const refused = Object.entries<{ engines?: { node?: string }; optional?: boolean }>(lock.packages)
      .filter(([name, p]) => name && typeof p.engines?.node === 'string' && !semver.satisfies(oldest, p.engines.node))
      .map(([name, p]) => `${name} wants node ${p.engines!.node}`);
    expect(refused).toEqual([]);
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('every locked package with an install script is reviewed in allowScripts (npm 12 blocks the others)', () => {
    const names = Object.entries<{ hasInstallScript?: boolean }>(lock.packages)
      .filter(([name, p]) => name && p.hasInstallScript)
      .map(([name]) => name.slice(name.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => typeof pkg.allowScripts?.[n] !== 'boolean')).toEqual([]);
  });
});
