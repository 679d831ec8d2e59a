#!/usr/bin/env node
'use strict';
// `npx dynamo-session …`: table tools (see --help).
require('../dist/cli/run-cli.js')
  .runCli(process.argv.slice(2), { log: (l) => console.log(l), error: (l) => console.error(l) })
  .then((code) => process.exit(code));
