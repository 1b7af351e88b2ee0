'use strict';
// `node -r bench/otel/mysql2.js`: the same for mysql2.
require('./setup')(new (require('@opentelemetry/instrumentation-mysql2').MySQL2Instrumentation)());
