// The benchmark measures the peer as the image ships it: JavaScript compiled from the sources
// (tsconfig.build.json), not the sources through Node's type stripper, which alone adds about 18 MiB
// of resident memory to every member. Builds are kept by a hash of the sources in the repository's
// .cache (ignored by git, and inside the tree so the compiled code finds node_modules), so an edit is
// never measured stale and concurrent benchmarks share one build without racing on it.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../e2e/lib/servers.ts';

const SOURCES = ['peer', 'operator'];
const INPUTS = ['bin/zkensemble', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function sourceHash(): string {
  const h = createHash('sha256');
  const files = SOURCES.flatMap((dir) =>
    readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
  );
  for (const f of [...files.sort(), ...INPUTS])
    h.update(f)
      .update('\0')
      .update(readFileSync(join(REPO_ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

/** The compiled bin/zkensemble for the sources as they are now, built on first use. */
export function compiledPeerBin(): string {
  const dir = join(REPO_ROOT, '.cache', `build-${sourceHash()}`);
  const bin = join(dir, 'bin', 'zkensemble');
  if (existsSync(bin)) return bin;
  mkdirSync(join(REPO_ROOT, '.cache'), { recursive: true });
  const tmp = `${dir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`compiling the peer failed: ${r.stdout}${r.stderr}`);
  mkdirSync(join(tmp, 'bin'), { recursive: true });
  cpSync(join(REPO_ROOT, 'bin', 'zkensemble'), join(tmp, 'bin', 'zkensemble'));
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another benchmark finished the same build first: use that one.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(bin)) throw e;
  }
  return bin;
}
