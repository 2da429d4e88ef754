// ZooKeeper's path rules (PathUtils.validatePath).

export function pathError(path: string): string | null {
  if (path.length === 0) return 'path length must be > 0';
  if (path.charCodeAt(0) !== 0x2f) return 'path must start with / character';
  if (path.length === 1) return null;
  if (path.charCodeAt(path.length - 1) === 0x2f) return 'path must not end with / character';
  let prev = 0x2f;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0) return `null character not allowed @${i}`;
    if (c === 0x2f && prev === 0x2f) return `empty node name specified @${i}`;
    if (c === 0x2e && prev === 0x2e) {
      const before = path.charCodeAt(i - 2);
      const after = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (before === 0x2f && after === 0x2f) return `relative paths not allowed @${i}`;
    } else if (c === 0x2e) {
      const after = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (prev === 0x2f && after === 0x2f) return `relative paths not allowed @${i}`;
    } else if (
      (c > 0x00 && c <= 0x1f) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    ) {
      return `invalid character @${i}`;
    }
    prev = c;
  }
  return null;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** Java's String.format("%010d", n), including its handling of negative numbers. */
export function sequenceSuffix(n: number): string {
  if (n < 0) return `-${String(-n).padStart(9, '0')}`;
  return String(n).padStart(10, '0');
}
