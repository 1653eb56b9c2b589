#!/bin/sh
# Build the pull-request comment for one environment's plan.
#
#   plan-comment.sh PLAN_MARKDOWN FULL_PLAN_URL ENVIRONMENT > comment.md
#
# PLAN_MARKDOWN is the output of 'hookplane plan ENV --format markdown', which already stays
# below 65,000 characters (GitHub refuses comments over 65,535) and ends a truncated plan with
# "... plan truncated". The comment starts with a marker naming the environment, so the
# workflow updates its own comment on every push instead of adding new ones, and a truncated
# plan gets a link to the full plan (a CI artifact) under it.
set -eu
plan=$1
url=$2
environment=$3
printf '<!-- hookplane-plan:%s -->\n' "$environment"
cat "$plan"
if grep -q '^\.\.\. plan truncated' "$plan"; then
  printf '\nThe plan is too long for a comment: [full plan for `%s`](%s).\n' "$environment" "$url"
fi
