'use strict';
// `node -r bench/otel/pg.js`: OpenTelemetry tracing of pg as an app would set it up, with an
// exporter that drops every span (what is measured is the instrumentation, not a network).
require('./setup')(new (require('@opentelemetry/instrumentation-pg').PgInstrumentation)());
