/**
 * A small forward proxy on 127.0.0.1 for the corporate-network tests: CONNECT
 * tunnels (how https:// endpoints are reached) and absolute-form requests
 * (`GET http://host/…`, how http:// ones are), each counted. It can refuse, as
 * a corporate proxy does, with 407 or 403. It only ever connects to loopback,
 * so a test that goes wrong cannot reach anywhere else.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface TestProxy {
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  /** CONNECT requests received, refused ones included. */
  readonly tunnels: number;
  /** Absolute-form requests received, refused ones included. */
  readonly forwarded: number;
  /** Local ports of the proxy's own connections to the endpoint: what the endpoint sees as its peers. */
  readonly upstreamPorts: Set<number>;
  /** Every Proxy-Authorization header received. */
  readonly authorizations: string[];
  close(): Promise<void>;
}

export interface TestProxyOptions {
  /** Answer every request with this status instead of forwarding it. */
  refuseWith?: 403 | 407;
}

function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';
}

const reasons: Record<number, string> = { 403: 'Forbidden', 407: 'Proxy Authentication Required' };

export async function startTestProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  let tunnels = 0;
  let forwarded = 0;
  const upstreamPorts = new Set<number>();
  const authorizations: string[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const noteAuthorization = (request: IncomingMessage): void => {
    const header = request.headers['proxy-authorization'];
    if (header !== undefined) authorizations.push(header);
  };

  const server: Server = createServer((request, response) => {
    forwarded += 1;
    noteAuthorization(request);
    const target = new URL(request.url ?? '/');
    if (options.refuseWith !== undefined || !isLoopbackHost(target.hostname)) {
      const status = options.refuseWith ?? 403;
      response.writeHead(status, status === 407 ? { 'proxy-authenticate': 'Basic realm="corp"' } : {}).end();
      return;
    }
    const { 'proxy-authorization': _dropped, 'proxy-connection': _alsoDropped, ...headers } = request.headers;
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: request.method, path: `${target.pathname}${target.search}`, headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('socket', (socket) => socket.once('connect', () => upstreamPorts.add(socket.localPort ?? 0)));
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  server.on('connection', track);
  server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    tunnels += 1;
    noteAuthorization(request);
    track(client);
    const [host = '', port = '443'] = (request.url ?? '').split(/:(?=\d+$)/);
    if (options.refuseWith !== undefined || !isLoopbackHost(host)) {
      const status = options.refuseWith ?? 403;
      const authenticate = status === 407 ? 'Proxy-Authenticate: Basic realm="corp"\r\n' : '';
      client.end(`HTTP/1.1 ${status} ${reasons[status]}\r\n${authenticate}Content-Length: 0\r\n\r\n`);
      return;
    }
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), () => {
      upstreamPorts.add(upstream.localPort ?? 0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get tunnels() {
      return tunnels;
    },
    get forwarded() {
      return forwarded;
    },
    upstreamPorts,
    authorizations,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 where nothing listens: one that was just listened on and closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
