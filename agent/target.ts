/** The parts of a connection target that may be shown: never a password. */
export interface TargetParts {
  user?: string | undefined;
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
  /** A Unix socket: shown instead of host:port. */
  socketPath?: string | undefined;
}

/** `user@host:port/database`; a Unix socket path stands in for host:port. */
export function formatTarget(t: TargetParts): string {
  const host = t.host ?? 'localhost';
  const where = t.socketPath ?? (host.startsWith('/') ? host : `${host.includes(':') ? `[${host}]` : host}${t.port !== undefined && t.port !== '' ? `:${t.port}` : ''}`);
  return `${t.user ?? ''}@${where}/${t.database ?? ''}`;
}

/** The same from a connection URL, dropping its password and query string. */
export function targetFromUrl(url: string, defaults: TargetParts): string {
  try {
    const u = new URL(url);
    return formatTarget({
      user: decodeURIComponent(u.username) || defaults.user,
      host: u.hostname.replace(/^\[|\]$/g, '') || u.searchParams.get('host') || defaults.host,
      port: u.port || defaults.port,
      database: decodeURIComponent(u.pathname.replace(/^\//, '')) || defaults.database,
    });
  } catch {
    return formatTarget(defaults);
  }
}
