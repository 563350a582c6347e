#!/bin/sh
set -eu
token_length=$(wc -c < /run/secrets/api_token | tr -d ' ')
i=0
while [ "$i" -lt "$ARG_TIMES" ]; do
  echo "Hello! Your token is $token_length bytes long (and never in my environment)."
  i=$((i + 1))
done
