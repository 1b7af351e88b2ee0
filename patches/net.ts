import type * as net from 'node:net';
import { noteConnect, noteDestroy, openingStack } from '../agent/clients';
import { guard } from '../agent/boundary';
import type { BuiltinPatch } from '../agent/patching';
import { enabled } from '../agent/settings';
import { captureStack } from '../agent/stacks';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

// Every client socket connects through net.Socket#connect (net.connect, tls.connect and
// the drivers alike): noted there, at the cost of one stack capture per connect (formatted
// only if the socket ever reaches a door), never per write.
export const netPatch: BuiltinPatch = {
  builtin: 'net',
  patch(n: typeof net) {
    wrapMethod(n.Socket.prototype, 'connect', (original) =>
      function connect(this: net.Socket, ...args: unknown[]) {
        if (enabled()) guard('net connect', () => noteConnect(this, args, openingStack(() => captureStack(connect))), undefined);
        return original.apply(this, args);
      },
    );
    // Every destroy() of a socket (its close, an error) calls _destroy, TLS sockets' too.
    wrapMethod(n.Socket.prototype, '_destroy', (original) =>
      function _destroy(this: net.Socket) {
        guard('net destroy', () => noteDestroy(this), undefined);
        return original.apply(this, arguments as any);
      },
    );
  },
  unpatch(n: typeof net) {
    unwrapMethod(n.Socket.prototype, 'connect');
    unwrapMethod(n.Socket.prototype, '_destroy');
  },
};
