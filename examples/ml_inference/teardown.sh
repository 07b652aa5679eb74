#!/usr/bin/env bash
# Removes everything ./setup.sh made, newest first: the HTTP API (its routes, integrations and
# stages go with it), the function and its role, the access points and the file system (the libraries and
# the model go with it), and the sample pictures in $SAMPLES. What is already gone is skipped,
# so it can run again, or after a setup that stopped half way. The function's logs stay, as a
# log group does on AWS; a network namespace you made to serve the samples is yours to remove
# (ip netns del web).
#
#   examples/ml_inference/teardown.sh          # NAME and SAMPLES as given to setup.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/../../.venv/bin:$PATH"
export SHOAL_ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. ../credentials.sh  # the keys to sign with (the server's root's)
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""  # AWS CLI v2 would page output through less
aws() { command aws --endpoint-url "$SHOAL_ENDPOINT" --output text "$@"; }
found() { local v; v=$(aws "$@"); [ "$v" = None ] || printf '%s' "$v"; }
NAME=${NAME:-MLInference}
SAMPLES=${SAMPLES:-/tmp/$NAME-samples}

for API in $(found apigatewayv2 get-apis --query "Items[?Name=='$NAME'].ApiId"); do
    echo "Deleting the HTTP API $API..." >&2
    aws apigatewayv2 delete-api --api-id "$API"
done
if aws lambda get-function --function-name "$NAME" > /dev/null 2>&1; then
    echo "Deleting the $NAME function..." >&2
    aws lambda delete-function --function-name "$NAME"
fi
if aws iam get-role --role-name "$NAME" > /dev/null 2>&1; then
    echo "Deleting the $NAME role..." >&2
    aws iam delete-role --role-name "$NAME"
fi
FS=$(found efs describe-file-systems --creation-token "$NAME" --query 'FileSystems[0].FileSystemId')
if [ -n "$FS" ]; then
    echo "Deleting the file system $FS and its access points..." >&2
    for AP in $(found efs describe-access-points --file-system-id "$FS" \
        --query 'AccessPoints[].AccessPointId'); do
        aws efs delete-access-point --access-point-id "$AP"
    done
    aws efs delete-file-system --file-system-id "$FS"
fi
if [ -d "$SAMPLES" ]; then
    echo "Deleting the sample pictures in $SAMPLES..." >&2
    rm -rf -- "$SAMPLES"
fi
echo "Nothing of $NAME is left." >&2
