#!/bin/sh
set -eu
line="$REPORT_TITLE in $ARG_COLOUR"
if [ "$ARG_LOUD" = "true" ]; then
  line=$(echo "$line" | tr '[:lower:]' '[:upper:]')
fi
echo "$line"
echo "tags: ${ARG_TAGS:-[]}"
echo "all arguments: $FLWD_ARGS_JSON"
