'use strict';
// The child of ipc-send.js: counts what arrives, closes every handle, and reports each
// complete batch ({ expect: n } announces one).
let expect = 0;
let received = 0;
process.send({ ready: true });
process.on('message', (message, handle) => {
  if (handle) handle.destroy ? handle.destroy() : handle.close();
  if (message && message.expect !== undefined) {
    expect = message.expect;
    received = 0;
    return;
  }
  if (message === 'done') return process.disconnect();
  if (++received === expect) process.send({ received });
});
