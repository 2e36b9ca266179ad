#!/usr/bin/env node
import { runCli } from './cli';

// The only place the CLI touches process globals.
void runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  terminal: process.stderr.isTTY
    ? { write: (text) => process.stderr.write(text), columns: process.stderr.columns }
    : undefined,
}).then((code) => {
  process.exitCode = code;
});
