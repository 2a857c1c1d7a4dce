// The `pullgate` command line.
import { Command, Option } from 'commander';
import { registerCacheAdminCommands } from './cache-admin-commands.js';
import { cacheGc, cachePurge, cacheStats, cacheVerify } from './cache-commands.js';
import type { CertSelfsignedFlags } from './cert-selfsigned.js';
import { configCheck } from './config-check.js';
import { configPrint, configSchemaCommand } from './config-print.js';
import { registerPrefetchCommand } from './prefetch-command.js';
import { serve } from './serve.js';
import { registerTokenCommands } from './token-commands.js';
import { registerUpstreamCommands } from './upstream-commands.js';
import { registerUserCommands } from './user-commands.js';
import { registerWatchCommands } from './watch-commands.js';
import { exitTwoOnUsageErrors } from './usage-exit.js';

export function buildProgram(): Command {
  const program = new Command('pullgate').description('Docker/OCI registry pull-through mirror').version('0.1.0');
  program
    .command('serve', { isDefault: true })
    .description('start the mirror')
    .option('-c, --config <file>', 'YAML config file (env PULLGATE_CONFIG)')
    .option('--listen-http <address>', 'HTTP listener, host:port (env PULLGATE_LISTEN_HTTP)')
    .option('--listen-https <address>', 'HTTPS listener, host:port (env PULLGATE_LISTEN_HTTPS)')
    .option('--listen-admin <address>', 'admin listener, host:port (env PULLGATE_LISTEN_ADMIN)')
    .option('--data-dir <dir>', 'data directory (env PULLGATE_DATA_DIR)')
    .option('--proxy <url>', 'HTTP(S) proxy for upstream connections (env PULLGATE_PROXY)')
    .addOption(new Option('--log-level <level>', 'log level (env PULLGATE_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--log-format <format>', 'log lines for a person or JSON; default: pretty on a terminal (env PULLGATE_LOG_FORMAT)').choices(['pretty', 'json']))
    .action(serve);
  const config = program.command('config').description('configuration tools');
  config.command('check').argument('<file>', 'YAML config file').description('validate a config file and summarise it').action(configCheck);
  config
    .command('print')
    .argument('[file]', 'YAML config file (env PULLGATE_CONFIG)')
    .option('--json', 'print JSON instead of YAML')
    .description('print the effective configuration (defaults, environment, absolute paths), secrets redacted')
    .action(configPrint);
  config.command('schema').description('print the JSON Schema of the config file').action(configSchemaCommand);
  const cache = program.command('cache').description('the content cache in the data directory');
  const withStore = (c: Command) =>
    c.option('-c, --config <file>', 'YAML config file (env PULLGATE_CONFIG)').option('--data-dir <dir>', 'data directory (env PULLGATE_DATA_DIR)');
  withStore(cache.command('verify').description('rehash every stored blob; drop bad ones and what referenced them')).action(cacheVerify);
  withStore(cache.command('stats').description('totals of what the cache holds')).action(cacheStats);
  withStore(cache.command('gc').description('evict least recently used images now, down to the low-water mark; pins are kept'))
    .option('--max-size <size>', 'evict as if cache.maxSize were this (e.g. 10GiB)')
    .action(cacheGc);
  withStore(cache.command('purge').description('remove an upstream\'s, a repository\'s, a tag\'s or a digest\'s content'))
    .option('--upstream <name>', 'upstream name')
    .option('--repository <name>', 'repository on that upstream (library/ included for Docker Hub)')
    .option('--tag <tag>', 'a tag of that repository')
    .option('--digest <digest>', 'a manifest or blob digest')
    .action(cachePurge);
  const cert = program.command('cert').description('TLS certificates');
  cert
    .command('selfsigned')
    .description('write a development CA and a certificate for the given hostnames, and print how to serve and trust them')
    .requiredOption('--hosts <names>', 'comma-separated hostnames (and IP addresses) the certificate serves')
    .requiredOption('--out <dir>', 'directory for ca.pem, ca-key.pem, cert.pem and key.pem (an existing CA there is reused)')
    .option('--days <n>', 'validity of the certificate in days', '825')
    .option('--port <port>', 'the HTTPS port clients use, when it is not 443 (for the trust lines)')
    .option('--json', 'print the files, config and trust lines as JSON')
    // Loaded when used: its X.509 code would slow every other command's start.
    .action(async (flags: CertSelfsignedFlags) => (await import('./cert-selfsigned.js')).certSelfsigned(flags));
  // The admin's actions, through the running mirror's admin API (tokens: in the data directory).
  registerCacheAdminCommands(cache);
  registerUpstreamCommands(program);
  registerPrefetchCommand(program);
  registerTokenCommands(program);
  registerUserCommands(program);
  registerWatchCommands(program);
  return exitTwoOnUsageErrors(program);
}
