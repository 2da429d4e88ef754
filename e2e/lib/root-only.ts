// Test files that need root on Linux (network namespaces, rootful podman networks). They are skipped
// where they cannot run at all; as root on Linux, which is how CI runs them after .ci/run has installed
// their tools, something missing is a setup error: the file fails rather than skipping quietly.

/**
 * The reason to skip (not Linux, not root), or false to run. Throws when `missing` names something
 * this root Linux machine lacks.
 */
export async function skipUnlessRoot(
  why: string,
  missing: () => Promise<string | null>,
): Promise<string | false> {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return `not root (${why})`;
  const lacking = await missing();
  if (lacking)
    throw new Error(`${lacking}; running as root on Linux, these tests need it (.ci/run installs it)`);
  return false;
}
