// TLS for the pg-over-TLS tests without touching the server: a proxy in the test process
// that answers PostgreSQL's SSLRequest with 'S', does the TLS handshake with a throwaway
// self-signed certificate made at test time, and pipes the decrypted stream to the real
// server in plain TCP. The server sees ordinary sessions from the proxy, carrying the
// client's application_name, so pg_stat_activity still tells what each session did.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { PG, tempDir } from './helpers';

// PostgreSQL's SSLRequest: Int32 length 8, Int32 code 80877103 (1234 << 16 | 5679).
const SSL_REQUEST_CODE = 80877103;

export interface TlsProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** A certificate and key for this run only (test data: never a real secret). */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const { dir, cleanup } = tempDir();
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    cleanup();
  }
}

export async function startTlsProxy(): Promise<TlsProxy> {
  const credentials = selfSigned();
  const open = new Set<net.Socket>();
  const keep = (s: net.Socket): net.Socket => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
    return s;
  };

  const pipeToServer = (client: net.Socket, first?: Buffer): void => {
    const server = keep(net.connect(PG.port, PG.host));
    if (first?.length) server.write(first);
    client.pipe(server);
    server.pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  };

  const proxy = net.createServer((raw) => {
    keep(raw);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 8) return;
      raw.off('data', onData);
      if (head.readInt32BE(0) === 8 && head.readInt32BE(4) === SSL_REQUEST_CODE) {
        raw.write('S');
        const secure = keep(new tls.TLSSocket(raw, { isServer: true, ...credentials }) as net.Socket);
        // pg waits for the 'S' before it starts the handshake: nothing else came with the request.
        pipeToServer(secure);
      } else {
        // A client that did not ask for TLS: plain all the way.
        pipeToServer(raw, head);
      }
    };
    raw.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = proxy.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
