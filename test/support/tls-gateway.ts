/**
 * An https:// endpoint for the corporate-network tests, as a gateway that
 * re-signs TLS looks to a client: a certificate for 127.0.0.1 issued by a CA
 * of its own (made here with openssl, as an administrator would), in front of
 * the fake Messages API. It records the peer port of every connection, so a
 * test can tell a connection the proxy made from one made directly.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  dir: string;
  /** The CA's certificate (PEM file): what tls.caFile or NODE_EXTRA_CA_CERTS name. */
  caFile: string;
  key: string;
  cert: string;
  remove(): Promise<void>;
}

/** A CA, and a server certificate for 127.0.0.1 and localhost (or the names given, as subjectAltName entries) that it signed (valid for two days). */
export async function makeTestCertificates(subjectAltNames = 'IP:127.0.0.1,DNS:localhost'): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'efrit-tls-'));
  const at = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Efrit Test Corporate CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(at('server.ext'), `subjectAltName=${subjectAltNames}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('server.ext')]);
  return {
    dir,
    caFile: at('ca.pem'),
    key: await readFile(at('server.key'), 'utf8'),
    cert: await readFile(at('server.pem'), 'utf8'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface TlsGateway {
  /** https://127.0.0.1:port */
  url: string;
  /** The peer port of each connection it accepted (TLS handshake done). */
  readonly peerPorts: number[];
  close(): Promise<void>;
}

/**
 * Terminates TLS with `certificates` and passes the bytes on to the plain-HTTP
 * endpoint at `upstreamUrl()`, asked on each connection (the server under test
 * needs the gateway's address before the fake API behind it exists).
 */
export async function startTlsGateway(certificates: TestCertificates, upstreamUrl: () => string): Promise<TlsGateway> {
  const peerPorts: number[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createTlsServer({ key: certificates.key, cert: certificates.cert }, (secure) => {
    peerPorts.push(secure.remotePort ?? 0);
    track(secure);
    const upstream = connect(Number(new URL(upstreamUrl()).port), '127.0.0.1');
    track(upstream);
    secure.pipe(upstream).pipe(secure);
    upstream.on('error', () => secure.destroy());
    secure.on('error', () => upstream.destroy());
  });
  // A client that refuses the certificate hangs up mid-handshake: expected here.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    peerPorts,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
