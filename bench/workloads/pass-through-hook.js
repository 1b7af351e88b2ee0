'use strict';
// A module hook that does nothing but pass every load on: what Node's hooked module path
// costs by itself (module.registerHooks, Node 22.15 and later), beside the agent's hook.
require('node:module').registerHooks({ load: (url, context, nextLoad) => nextLoad(url, context) });
