/** Options shared by several subcommands, and the one way to turn them into a Config. */

import type { Command } from "@commander-js/extra-typings";
import { type Config, DEFAULTS, ENV, type RawFlags, resolveConfig } from "../config.ts";
import { log } from "../log.ts";

/** Adds the Redis, data-directory and logging options every core-using subcommand shares. */
export function addSharedOptions<C extends Command<[], Record<string, unknown>>>(cmd: C): C {
  cmd
    .option(
      "--primary <url>",
      `primary Redis URL: redis[s]://, redis[s]+sentinel://, redis[s]+cluster:// (env ${ENV.primary}; default ${DEFAULTS.primary})`,
    )
    .option(
      "--primary-replicas <n>",
      `a write counts as acknowledged only after WAIT n replicas (env ${ENV.primaryReplicas}; default ${DEFAULTS.primaryReplicas})`,
    )
    .option("--failover <url>", `failover Redis URL (env ${ENV.failover}; default none)`)
    .option(
      "--data-dir <dir>",
      `journal (outbox), status and control directory (env ${ENV.dataDir})`,
    )
    .option("--prefix <p>", `Redis key prefix (env ${ENV.prefix}; default ${DEFAULTS.prefix})`)
    .option(
      "--tls-ca <file|pem>",
      `CA certificate file, or PEM text, for rediss:// (env ${ENV.tlsCa})`,
    )
    .option("--tls-insecure", `skip TLS certificate verification: unsafe (env ${ENV.tlsInsecure})`)
    .option("--log-format <fmt>", `pretty or json (env ${ENV.logFormat}; default pretty on a TTY)`)
    .option(
      "--log-level <level>",
      `debug, info, warn or error (env ${ENV.logLevel}; default ${DEFAULTS.logLevel})`,
    );
  return cmd;
}

/** Resolves the configuration from a command's flags and the environment, and sets up logging. */
export function configFrom(flags: RawFlags): Config {
  const config = resolveConfig(flags, Deno.env.toObject());
  log.configure({ format: config.logFormat, level: config.logLevel });
  if (config.tlsInsecure) {
    log.warn(
      "TLS certificate verification is OFF (--tls-insecure): anyone on the path can read and alter this traffic",
      {},
    );
  }
  return config;
}
