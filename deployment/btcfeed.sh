#!/bin/sh
# `btcfeed <subcommand> [flags]` inside the image: runs the task from the app directory.
cd /app && exec deno task --quiet btcfeed "$@"
