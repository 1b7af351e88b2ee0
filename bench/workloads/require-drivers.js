'use strict';
// Start-up of an app that loads both drivers and exits: what the require hooks cost.
require('pg');
require('mysql2');
