import { checkReceived, checkSend, noteAnnounced } from '../agent/doors';
import type { BuiltinPatch } from '../agent/patching';
import { unwrapMethod, wrapMethod } from '../agent/wrap';

// A child with an IPC channel: what it sends up (`process.send(msg, socket)`), and what it
// receives. Handles arrive through process.emit('message', msg, handle), and the parent's
// announcement of one through process.emit('internalMessage', …); watching emit rather
// than adding listeners keeps the channel unref'd, so the child still exits when done.
export const processPatch: BuiltinPatch = {
  builtin: 'process',
  patch(proc: NodeJS.Process) {
    if (typeof proc.send !== 'function') return;
    wrapMethod(proc, 'send', (original) =>
      // process.send(message, handle, options, callback), as ChildProcess#send: four
      // arguments passed on as they are, with no `arguments` object made for each send.
      function send(this: unknown, message: unknown, handle?: unknown, options?: unknown, callback?: unknown) {
        if (handle !== null && typeof handle === 'object') checkSend('process.send', handle, send);
        return original.call(this, message, handle, options, callback);
      },
    );
    wrapMethod(proc, 'emit', (original) =>
      function emit(this: unknown, event: unknown, _message?: unknown, handle?: unknown) {
        if (event === 'message' && handle != null) checkReceived(handle, emit);
        else if (event === 'internalMessage') noteAnnounced(_message);
        return original.apply(this, arguments as any);
      },
    );
  },
  unpatch(proc: NodeJS.Process) {
    unwrapMethod(proc, 'send');
    unwrapMethod(proc, 'emit');
  },
};
