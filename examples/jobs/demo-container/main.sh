#!/bin/sh
echo "Hello $ARG_NAME from inside a container!"
