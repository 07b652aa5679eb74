#!/usr/bin/env bash
# A chat room on Shoal, set up with the AWS CLI:
#   1. a file system, and an access point for uid/gid 1001 limited to /chat, where the
#      function keeps one file per connected member;
#   2. the role NAME-role, which Lambda may assume and which may post to and manage the API's
#      connections (execute-api:ManageConnections), and the NAME function (lambda_function.py)
#      running as it, with the access point at /mnt/chat;
#   3. a WebSocket API (route selection $request.body.action) with the routes $connect,
#      $disconnect, sendmessage and $default (two-way) to the function, and a stage
#      "production".
# It prints the ws:// URL to connect to (add ?name=YOU). Run it again and it finds what the
# first run made; ./teardown.sh [NAME] removes it all.
#
# Usage: ./setup.sh [NAME]     (NAME defaults to Chat; run against a running `shoal serve`,
#                               at $SHOAL_ENDPOINT or http://127.0.0.1:9000)
set -euo pipefail

NAME=${1:-Chat}
ENDPOINT=${SHOAL_ENDPOINT:-http://127.0.0.1:9000}
. "$(dirname "$0")/../credentials.sh"  # the keys to sign with (the server's root's)
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_PAGER=""
RUNTIME=${RUNTIME:-python3.$(python3 -c 'import sys; print(sys.version_info.minor)')}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

aws() { command aws --endpoint-url "$ENDPOINT" --output text "$@"; }
found() { local v; v=$(aws "$@"); [ "$v" = None ] || printf '%s' "$v"; }

echo "Creating the file system and its access point..." >&2
FS_ID=$(found efs describe-file-systems --creation-token "$NAME-fs" \
    --query 'FileSystems[0].FileSystemId')
if [ -z "$FS_ID" ]; then
    FS_ID=$(aws efs create-file-system --creation-token "$NAME-fs" \
        --tags "Key=Name,Value=$NAME" --query FileSystemId)
fi
until [ "$(aws efs describe-file-systems --file-system-id "$FS_ID" \
    --query 'FileSystems[0].LifeCycleState')" = available ]; do sleep 0.2; done
AP_ARN=$(aws efs create-access-point --file-system-id "$FS_ID" --client-token "$NAME-ap" \
    --posix-user Uid=1001,Gid=1001 \
    --root-directory 'Path=/chat,CreationInfo={OwnerUid=1001,OwnerGid=1001,Permissions=750}' \
    --query AccessPointArn)
AP_ID=${AP_ARN##*/}
until [ "$(aws efs describe-access-points --access-point-id "$AP_ID" \
    --query 'AccessPoints[0].LifeCycleState')" = available ]; do sleep 0.2; done

echo "Creating the WebSocket API..." >&2
API_ID=$(found apigatewayv2 get-apis --query "Items[?Name=='$NAME-API'] | [0].ApiId")
if [ -z "$API_ID" ]; then
    API_ID=$(aws apigatewayv2 create-api --name "$NAME-API" --protocol-type WEBSOCKET \
        --route-selection-expression '$request.body.action' --query ApiId)
fi

echo "Creating the $NAME-role execution role..." >&2
TRUST='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
  "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
if ! aws iam get-role --role-name "$NAME-role" > /dev/null 2>&1; then
    aws iam create-role --role-name "$NAME-role" --assume-role-policy-document "$TRUST" > /dev/null
fi
# The function broadcasts with PostToConnection: allowed on this API's connections only.
MANAGE="{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\",
  \"Action\": \"execute-api:ManageConnections\",
  \"Resource\": \"arn:aws:execute-api:$AWS_DEFAULT_REGION:*:$API_ID/*/POST/@connections/*\"}]}"
aws iam put-role-policy --role-name "$NAME-role" --policy-name manage-connections \
    --policy-document "$MANAGE"
ROLE_ARN=$(aws iam get-role --role-name "$NAME-role" --query Role.Arn)

echo "Creating the $NAME function with the access point at /mnt/chat..." >&2
(cd "$HERE" && python3 -m zipfile -c "$WORK/function.zip" lambda_function.py)
CONFIG=(--runtime "$RUNTIME" --role "$ROLE_ARN" --handler lambda_function.lambda_handler
        --file-system-configs "Arn=$AP_ARN,LocalMountPath=/mnt/chat")
if aws lambda get-function --function-name "$NAME" > /dev/null 2>&1; then
    aws lambda update-function-configuration --function-name "$NAME" "${CONFIG[@]}" > /dev/null
    aws lambda wait function-updated-v2 --function-name "$NAME"
    aws lambda update-function-code --function-name "$NAME" \
        --zip-file "fileb://$WORK/function.zip" > /dev/null
    aws lambda wait function-updated-v2 --function-name "$NAME"
else
    aws lambda create-function --function-name "$NAME" "${CONFIG[@]}" \
        --zip-file "fileb://$WORK/function.zip" > /dev/null
    aws lambda wait function-active-v2 --function-name "$NAME"
fi
FN_ARN=$(aws lambda get-function --function-name "$NAME" --query Configuration.FunctionArn)

echo "Creating the routes and the stage production..." >&2
INTEGRATION_ID=$(found apigatewayv2 get-integrations --api-id "$API_ID" \
    --query "Items[?IntegrationUri=='$FN_ARN'] | [0].IntegrationId")
if [ -z "$INTEGRATION_ID" ]; then
    INTEGRATION_ID=$(aws apigatewayv2 create-integration --api-id "$API_ID" \
        --integration-type AWS_PROXY --integration-uri "$FN_ARN" --query IntegrationId)
fi
for KEY in '$connect' '$disconnect' sendmessage '$default'; do
    if [ -z "$(found apigatewayv2 get-routes --api-id "$API_ID" \
        --query "Items[?RouteKey=='$KEY'] | [0].RouteId")" ]; then
        TWO_WAY=()
        [ "$KEY" = '$default' ] && TWO_WAY=(--route-response-selection-expression '$default')
        aws apigatewayv2 create-route --api-id "$API_ID" --route-key "$KEY" \
            --target "integrations/$INTEGRATION_ID" "${TWO_WAY[@]}" > /dev/null
    fi
done
if [ -z "$(found apigatewayv2 get-stages --api-id "$API_ID" \
    --query "Items[?StageName=='production'] | [0].StageName")" ]; then
    aws apigatewayv2 create-stage --api-id "$API_ID" --stage-name production \
        --auto-deploy > /dev/null
fi
API_ENDPOINT=$(aws apigatewayv2 get-api --api-id "$API_ID" --query ApiEndpoint)

echo "$API_ENDPOINT/production"
