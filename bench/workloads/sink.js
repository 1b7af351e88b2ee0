'use strict';
// A server that accepts connections and holds them, in a process of its own (its descriptors
// do not count against the workload's): the far end of the workloads' tracked sockets,
// instead of Redis, whose 10,000 clients other tests on this machine share. Says its port
// over IPC; exits when its parent goes.
const net = require('node:net');

const server = net.createServer((s) => s.on('error', () => {}).resume());
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send({ port: server.address().port }));
process.on('disconnect', () => process.exit(0));
