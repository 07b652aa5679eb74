#!/usr/bin/env bash
# Removes everything ./setup.sh [NAME] made: the WebSocket API (its routes, integration and
# stage go with it; connected members are disconnected), the function, its role and its
# policy, the access points and the file system. What is already gone is skipped.
#
# Usage: ./teardown.sh [NAME]  (the NAME given to setup.sh; default Chat)
set -euo pipefail

NAME=${1:-Chat}
ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. "$(dirname "$0")/../credentials.sh"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""

aws() { command aws --endpoint-url "$ENDPOINT" --output text "$@"; }
found() { local v; v=$(aws "$@"); [ "$v" = None ] || printf '%s' "$v"; }

for API_ID in $(found apigatewayv2 get-apis --query "Items[?Name=='$NAME-API'].ApiId"); do
    echo "Deleting the WebSocket API $API_ID..." >&2
    aws apigatewayv2 delete-api --api-id "$API_ID"
done
if aws lambda get-function --function-name "$NAME" > /dev/null 2>&1; then
    echo "Deleting the $NAME function..." >&2
    aws lambda delete-function --function-name "$NAME"
fi
if aws iam get-role --role-name "$NAME-role" > /dev/null 2>&1; then
    echo "Deleting the $NAME-role role..." >&2
    aws iam delete-role-policy --role-name "$NAME-role" --policy-name manage-connections \
        2> /dev/null || true
    aws iam delete-role --role-name "$NAME-role"
fi
FS_ID=$(found efs describe-file-systems --creation-token "$NAME-fs" \
    --query 'FileSystems[0].FileSystemId')
if [ -n "$FS_ID" ]; then
    echo "Deleting the file system $FS_ID and its access points..." >&2
    for AP_ID in $(found efs describe-access-points --file-system-id "$FS_ID" \
        --query 'AccessPoints[].AccessPointId'); do
        aws efs delete-access-point --access-point-id "$AP_ID"
    done
    aws efs delete-file-system --file-system-id "$FS_ID"
fi
echo "Nothing of $NAME is left." >&2
