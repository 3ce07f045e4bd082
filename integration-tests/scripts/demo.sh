#!/usr/bin/env bash
echo "make demo is not there yet: it comes with the operator tooling (leadership, chart, inspect)." >&2
exit 1
